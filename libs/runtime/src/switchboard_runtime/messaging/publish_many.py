"""Many messages into one stream, each stored once, without waiting for one ack before the next.

For entries whose order between each other does not matter (they go to distinct subjects, and
whoever reads them orders them by stream sequence): every message is sent at once through a
``StreamPipeline`` with its ``Nats-Msg-Id``; whatever does not come back acked within the
retry's attempt timeout (silence, an error, the connection busy) is then published one by one
with the same id, ``concurrency`` at a time, until acked. JetStream answers a repeated id with
the sequence it first stored, so each message ends stored exactly once, and the caller gets its
stream sequence either way.
"""

import asyncio
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from nats.js import JetStreamContext

from switchboard_runtime.messaging.publish_retry import PublishRetry, publish_until_acked
from switchboard_runtime.messaging.stream_pipeline import AckBatch, StreamAck, StreamPipeline
from switchboard_runtime.telemetry.metrics import (
    BUS_MESSAGES_PUBLISHED,
    child,
    service_name,
    subject_template,
)

__all__ = ["Outgoing", "publish_many"]


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to store: where, what, and the id that makes a retry harmless."""

    subject: str
    payload: bytes
    msg_id: str


async def publish_many(
    js: JetStreamContext,
    pipeline: StreamPipeline | None,
    messages: Sequence[Outgoing],
    *,
    stream: str,
    retry: PublishRetry,
    concurrency: int,
    context: Mapping[str, str] | None = None,
) -> list[int]:
    """Store every message; their stream sequences, in order. ``context``: the trace headers
    of the caller's span over the batch (each message gets no span of its own). The first
    message that cannot be stored (``retry``'s deadline, a refusal) is raised."""
    seqs: list[int] = [0] * len(messages)
    rest: list[int] = []
    sent: list[tuple[int, asyncio.Future[StreamAck]]] = []
    answers = AckBatch()
    for index, message in enumerate(messages):
        if pipeline is None:
            rest.append(index)
            continue
        try:
            ack = await pipeline.publish(
                message.subject,
                message.payload,
                stream=stream,
                headers={**(context or {}), "Nats-Msg-Id": message.msg_id},
                batch=answers,
            )
        except Exception:  # reconnecting, the buffer full: published one by one below
            rest.append(index)
            continue
        sent.append((index, ack))
    if sent and pipeline is not None:
        await answers.wait(retry.attempt_timeout_seconds)
        pipeline.forget([ack for _, ack in sent if not ack.done()])
    acked = 0
    for index, ack in sent:
        if ack.cancelled() or ack.exception() is not None:
            rest.append(index)
            continue
        seqs[index] = ack.result().seq
        acked += 1
    if acked:
        subject = subject_template(messages[0].subject)
        child(BUS_MESSAGES_PUBLISHED, service_name(), subject).inc(acked)

    async def some(pending: Iterator[int]) -> None:
        for index in pending:
            message = messages[index]
            ack = await publish_until_acked(
                js,
                message.subject,
                message.payload,
                stream=stream,
                headers={**(context or {}), "Nats-Msg-Id": message.msg_id},
                retry=retry,
                traced=context is None,
            )
            seqs[index] = ack.seq

    pending = iter(sorted(rest))
    async with asyncio.TaskGroup() as group:
        for _ in range(min(concurrency, len(rest))):
            group.create_task(some(pending))
    return seqs
