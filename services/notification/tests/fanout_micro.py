"""A development microbenchmark (not collected by pytest): one process's CPU per broadcast inbox
entry, against its own nats-server, with the SDK's tracer on as in the service.

    python3 -m uv run python services/notification/tests/fanout_micro.py [users] [concurrency]

Broadcasts: the first meets users with no inbox yet (reads each head), the next ones known heads
(the figure to compare), then the last one is expanded again (every entry a duplicate: a job
taken again after a crash). CPU is this process's (getrusage), so a busy machine inflates the
wall time more than the CPU per entry; run before and after in the same conditions.
"""

import asyncio
import resource
import sys
import time
from pathlib import Path

import nats
from nats.aio.msg import Msg
from switchboard_contracts import streams, subjects
from switchboard_contracts.notify import (
    BroadcastJob,
    NotificationType,
    UsersReply,
    UsersRequest,
)
from switchboard_devstack.nats_server import NatsServer
from switchboard_devstack.stores import scratch_dir
from switchboard_notification.broadcast import BroadcastWorker
from switchboard_notification.sender import NotificationSender
from switchboard_runtime import Bus, PublishRetry, ensure_stream
from switchboard_runtime.messaging.stream_pipeline import StreamPipeline
from switchboard_runtime.telemetry.settings import TelemetrySettings
from switchboard_runtime.telemetry.tracing import setup_tracing


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def run(url: str, count: int, concurrency: int) -> None:
    setup_tracing(TelemetrySettings(), "notification", "micro")
    users = sorted(f"user-{n:06d}" for n in range(count))
    nc = await nats.connect(url)
    js = nc.jetstream()
    await ensure_stream(js, streams.NOTIFY)

    async def list_users(msg: Msg) -> None:  # what persistence answers
        request = UsersRequest.decode(msg.data)
        page = [u for u in users if request.after is None or u > request.after]
        await msg.respond(UsersReply(user_ids=page[: request.limit]).encode())

    await nc.subscribe(subjects.NOTIFY_USERS, cb=list_users)
    worker = BroadcastWorker(
        Bus.attach(nc),
        NotificationSender(js, PublishRetry(), StreamPipeline(nc)),
        concurrency,
        5.0,
    )
    names = ["unknown heads", "known heads", "known heads", "known heads", "taken again"]
    for n, name in enumerate(names):
        job = BroadcastJob(
            id=f"b-{min(n, len(names) - 2)}",
            type=NotificationType.INFO,
            title="t",
            message="hello",
            timestamp=1,
        )
        cpu, wall = cpu_seconds(), time.perf_counter()
        stored = await worker.expand(job)
        cpu, wall = cpu_seconds() - cpu, time.perf_counter() - wall
        each = cpu / stored * 1e6
        print(f"{name}: {stored} entries in {wall * 1000:,.0f} ms, {each:.1f} µs CPU each")
    info = await js.stream_info(streams.NOTIFY.name)
    print(f"stream holds {info.state.messages} (expected {count * (len(names) - 1)})")
    await nc.close()


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    concurrency = int(sys.argv[2]) if len(sys.argv) > 2 else 64
    server = NatsServer(Path(scratch_dir("sb-fanout-nats-")))
    server.start()
    try:
        asyncio.run(run(server.url, count, concurrency))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
