"""The bus against a nats-server of its own that is killed, frozen and restarted on its store:
dead servers are noticed within the stated bound, and publishes retried with the same message id
until acked are stored exactly once (docs/reliability.md)."""

import asyncio
import contextlib
import os
import secrets
import signal
import time
from collections.abc import AsyncIterator, Iterator
from urllib.parse import ParseResult, urlparse

import pytest
from nats.aio.client import Server
from nats.js.api import StreamConfig
from switchboard_contracts import BusMessage
from switchboard_devstack import NatsServer
from switchboard_devstack.fixtures import ARTIFACTS
from switchboard_devstack.stores import scratch_dir
from switchboard_runtime import Bus, PublishRetry, PublishUnavailableError, ServiceSettings
from switchboard_runtime.messaging.bus import JitteredReconnect
from switchboard_runtime.messaging.publish_retry import publish_until_acked
from switchboard_runtime.messaging.sequencer import SubjectSequencer

pytestmark = pytest.mark.component

STREAM = "RETRYTEST"
SUBJECT = "retrytest.key"


@pytest.fixture
def server() -> Iterator[NatsServer]:
    nats_server = NatsServer(
        scratch_dir("sb-runtime-nats-"), log_file=ARTIFACTS / "runtime-nats-faults.log"
    )
    nats_server.start()
    try:
        yield nats_server
    finally:
        pid = nats_server.pid
        if pid is not None and nats_server.running():
            os.kill(pid, signal.SIGCONT)  # a frozen one must be able to stop
        nats_server.stop()


@pytest.fixture
async def bus(server: NatsServer) -> AsyncIterator[Bus]:
    """A service's bus with the production defaults, but on this test's server."""
    connected = Bus(ServiceSettings(nats_url=server.url), name="runtime-test")
    await connected.connect()
    await connected.js.add_stream(
        StreamConfig(name=STREAM, subjects=[f"{SUBJECT}.>"], duplicate_window=120)
    )
    try:
        yield connected
    finally:
        nc = connected.nc
        if not nc.is_closed:
            with contextlib.suppress(OSError):  # the server may be down: nothing to flush to
                await nc.close()


async def nothing_stored(key: str) -> int:
    del key
    return 0


async def copies(bus: Bus, subject: str) -> int:
    info = await bus.js.stream_info(STREAM, subjects_filter=subject)
    return (info.state.subjects or {}).get(subject, 0)


def disconnected_event(bus: Bus) -> asyncio.Event:
    event = asyncio.Event()
    bus.on_disconnected.append(event.set)
    return event


async def test_a_publish_pending_while_nats_restarts_is_acked_once(
    bus: Bus, server: NatsServer
) -> None:
    subject = f"{SUBJECT}.{secrets.token_hex(4)}"
    gone = disconnected_event(bus)
    await asyncio.to_thread(server.kill)
    async with asyncio.timeout(5):
        await gone.wait()
    publishing = asyncio.create_task(
        publish_until_acked(
            bus.js,
            subject,
            b"one",
            headers={"Nats-Msg-Id": "restart-1", "Nats-Expected-Last-Subject-Sequence": "0"},
            retry=PublishRetry(deadline_seconds=20.0),
        )
    )
    await asyncio.sleep(0.5)  # several attempts go unanswered meanwhile
    assert not publishing.done()
    await asyncio.to_thread(server.start)  # same port, same store
    ack = await asyncio.wait_for(publishing, 25)
    assert ack.stream == STREAM
    assert await copies(bus, subject) == 1


async def test_a_publish_whose_first_ack_was_lost_is_answered_by_the_original(bus: Bus) -> None:
    """The first attempt landed (published directly, its ack ignored): the retry with the same
    id is a duplicate, answered with the original's sequence, and nothing is stored twice."""
    subject = f"{SUBJECT}.{secrets.token_hex(4)}"
    headers = {"Nats-Msg-Id": f"lost-ack-{subject}"}
    first = await bus.js.publish(subject, b"one", stream=STREAM, headers=headers)
    again = await publish_until_acked(
        bus.js, subject, b"one", stream=STREAM, headers=headers, retry=PublishRetry()
    )
    assert again.duplicate
    assert again.seq == first.seq
    assert await copies(bus, subject) == 1


class Entry(BusMessage):
    id: str
    position: int


async def test_a_sequenced_publish_whose_ack_was_lost_is_stored_once(bus: Bus) -> None:
    """With an expected subject sequence, JetStream (2.15) checks the sequence before the id:
    a retry of an attempt that landed meets "wrong last sequence". The sequencer then re-reads
    the head (its own entry) and sends the same id with the new expected sequence, which the
    id check answers as a duplicate: the caller gets the entry as stored, stored once."""
    key = secrets.token_hex(4)
    subject = f"{SUBJECT}.{key}"
    sequencer: SubjectSequencer[Entry] = SubjectSequencer(
        bus.js,
        STREAM,
        Entry,
        field="position",
        subject_of=lambda k: f"{SUBJECT}.{k}",
        stored_last=nothing_stored,
    )
    first = await sequencer.publish(key, Entry(id="a", position=0), f"{key}-a")
    assert first.position == 1
    # The second entry's first attempt lands, exactly as the sequencer would send it; its ack is
    # lost, so the sequencer still believes the head is the first entry.
    info = await bus.js.stream_info(STREAM, subjects_filter=subject)
    head_seq = info.state.last_seq
    await bus.js.publish(
        subject,
        Entry(id="b", position=2).encode(),
        stream=STREAM,
        headers={
            "Nats-Msg-Id": f"{key}-b",
            "Nats-Expected-Last-Subject-Sequence": str(head_seq),
        },
    )
    again = await sequencer.publish(key, Entry(id="b", position=0), f"{key}-b")
    assert again == Entry(id="b", position=2)
    assert await copies(bus, subject) == 2


async def test_a_publish_nobody_acks_fails_after_the_deadline(bus: Bus, server: NatsServer) -> None:
    gone = disconnected_event(bus)
    await asyncio.to_thread(server.kill)
    async with asyncio.timeout(5):
        await gone.wait()
    began = time.monotonic()
    with pytest.raises(PublishUnavailableError):
        await publish_until_acked(
            bus.js,
            f"{SUBJECT}.down",
            b"x",
            headers={"Nats-Msg-Id": "down-1"},
            retry=PublishRetry(deadline_seconds=1.5, attempt_timeout_seconds=0.5),
        )
    assert 1.0 <= time.monotonic() - began < 3.0


async def test_a_killed_server_is_noticed_at_once(bus: Bus, server: NatsServer) -> None:
    gone = disconnected_event(bus)
    began = time.monotonic()
    await asyncio.to_thread(server.kill)
    async with asyncio.timeout(2):
        await gone.wait()
    noticed = time.monotonic() - began
    print(f"killed nats-server noticed after {noticed:.2f} s")
    assert noticed < 2


async def test_a_frozen_server_is_noticed_within_the_ping_bound(
    bus: Bus, server: NatsServer
) -> None:
    """SIGSTOP keeps its sockets open: only the pings can tell. The bound with the defaults is
    (NATS_MAX_OUTSTANDING_PINGS + 1) x NATS_PING_INTERVAL_SECONDS = 6 s."""
    settings = ServiceSettings()
    bound = (settings.nats_max_outstanding_pings + 1) * settings.nats_ping_interval_seconds
    gone = disconnected_event(bus)
    assert server.pid is not None
    began = time.monotonic()
    os.kill(server.pid, signal.SIGSTOP)
    try:
        async with asyncio.timeout(bound + 1.5):  # the bound, and a loaded machine's slack
            await gone.wait()
    finally:
        os.kill(server.pid, signal.SIGCONT)
    noticed = time.monotonic() - began
    print(f"frozen nats-server noticed after {noticed:.2f} s (bound {bound} s)")
    assert noticed <= bound + 1.5
    reconnected = asyncio.Event()
    bus.on_reconnected.append(reconnected.set)
    async with asyncio.timeout(10):
        await reconnected.wait()


def test_reconnects_take_the_servers_in_turn_after_a_jittered_wait() -> None:
    servers = [Server(uri=urlparse_server(n)) for n in range(3)]
    hook = JitteredReconnect(0.25, 0.25)
    picks = [hook(servers, {}) for _ in range(300)]
    assert {chosen.uri.port for chosen, _ in picks if chosen is not None} == {4000, 4001, 4002}
    delays = [delay for _, delay in picks]
    assert all(0.25 <= delay <= 0.5 for delay in delays)
    assert max(delays) - min(delays) > 0.1, "jittered, not fixed"


def urlparse_server(n: int) -> ParseResult:
    return urlparse(f"nats://127.0.0.1:{4000 + n}")
