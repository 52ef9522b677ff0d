"""Drains a JetStream stream into PostgreSQL with a durable consumer, acking only after commit.

Each message is processed in a span of its own trace (from fetch to ack); the batch's insert is
one client span linked to all of them. Consumer lag, batch sizes and write latency are measured.

A message that cannot be written never blocks the stream: an undecodable one goes to dead
letters at once; one PostgreSQL refuses for its data is isolated by splitting its batch
(``poison``) and goes to dead letters after ``max_attempts`` failures alone; the rest of the
batch is written. Dead letters are stored before the original is acked. Transient failures
(PostgreSQL away) are retried with the batch unacked and never make a dead letter.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from typing import Generic, TypeVar

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.errors import NotFoundError
from opentelemetry import trace
from pydantic import ValidationError
from switchboard_contracts import BusMessage
from switchboard_contracts.dead_letters import SEQUENCE_HEADER, DeadLetterKind
from switchboard_contracts.streams import ConsumerSpec
from switchboard_runtime import ensure_consumer
from switchboard_runtime.messaging.ack_subject import delivery_count, stream_sequence
from switchboard_runtime.messaging.consumer_lag import note_delivery, track_consumer_lag
from switchboard_runtime.messaging.dead_letters import DeadLetters, Fault, describe_error
from switchboard_runtime.patches.natspy_acks import ack_all
from switchboard_runtime.telemetry.logs import log_failure
from switchboard_runtime.telemetry.tracing import (
    caller_unrecorded,
    mark_error,
    start_consumer_span,
    tracer,
)

from switchboard_persistence.batch_puller import BatchPuller
from switchboard_persistence.metrics import (
    MESSAGES_DROPPED,
    MESSAGES_WRITTEN,
    WRITE_BATCH_SIZE,
    WRITE_DURATION,
    WRITE_ERRORS,
)
from switchboard_persistence.poison import Isolation, Step, data_fault

__all__ = ["StreamWriter"]

log = logging.getLogger(__name__)

RETRY_DELAY_SECONDS = 1.0

M = TypeVar("M", bound=BusMessage)


class StreamWriter(Generic[M]):
    """Fetches batches of ``model`` messages, writes each batch with ``insert`` into ``table``
    (one transaction, retried until it commits), then acks it. The next batch is fetched while
    one is written; up to ``concurrency`` batches are written at once. Messages that cannot be
    written go to ``dead_letters`` (see the module's docstring); ``retry_delay`` is the pause
    before a failed insert is tried again. ``at_sequence``: gives a decoded message what
    depends on where the stream stored it (a notification's cursor is its stream sequence).

    ``linger``: after a batch that drained the consumer (fewer than ``batch_size``), wait this
    long before the next fetch, so that under a steady load each fetch takes everything that
    arrived meanwhile. Every batch costs a fetch, a transaction and their bookkeeping whatever
    its size: at 2,000 chat messages/s without it, batches held ~4 messages. A quiet consumer's
    first message is written at once. The delay is off every ack path (chat and notification
    ack their clients on JetStream's ack) and far below JetStream's duplicate window, the one
    thing that relies on persistence keeping up."""

    def __init__(
        self,
        nc: Client,
        spec: ConsumerSpec,
        model: type[M],
        insert: Callable[[list[M]], Awaitable[None]],
        batch_size: int,
        *,
        table: str,
        concurrency: int = 1,
        linger: float = 0.0,
        max_attempts: int = 3,
        retry_delay: float = RETRY_DELAY_SECONDS,
        dead_letters: DeadLetters | None = None,
        at_sequence: Callable[[M, int], M] | None = None,
    ) -> None:
        self._nc = nc
        self._at_sequence = at_sequence
        self._js = nc.jetstream()
        self._spec = spec
        self._model = model
        self._insert = insert
        self._batch_size = batch_size
        self._table = table
        self._slots = asyncio.Semaphore(concurrency)
        self._linger = linger
        self._max_attempts = max_attempts
        self._retry_delay = retry_delay
        self._dead_letters = dead_letters or DeadLetters(self._js)
        self._writing: set[asyncio.Task[None]] = set()
        self.consuming = False
        self._stopping = False

    async def run(self) -> None:
        spec = self._spec
        while True:
            try:
                await ensure_consumer(self._js, spec)
                break
            except NotFoundError:
                log.info("waiting for stream %s (created by its owner)", spec.stream)
                await asyncio.sleep(RETRY_DELAY_SECONDS)
        puller = BatchPuller(self._nc, spec.stream, spec.durable)
        await puller.start()
        lag = asyncio.create_task(track_consumer_lag(self._js, spec))
        self.consuming = True
        drained = False
        try:
            while not self._stopping:
                if drained and self._linger > 0:
                    await asyncio.sleep(self._linger)
                # A slot first, then the fetch: no batch ever waits unwritten in our hands.
                await self._slots.acquire()
                if self.stopping:  # asked to stop while waiting for a slot
                    self._slots.release()
                    break
                try:
                    batch = await puller.fetch(self._batch_size, timeout=1.0)
                except Exception:
                    self._slots.release()
                    log.exception("fetching from %s failed; retrying", spec.durable)
                    await asyncio.sleep(RETRY_DELAY_SECONDS)
                    continue
                drained = 0 < len(batch) < self._batch_size
                if not batch:
                    self._slots.release()
                    continue
                # Written while the next batch is fetched (and, with more than one slot, beside
                # other batches: rows never conflict across batches but on redelivered ids).
                task = asyncio.create_task(self._write(batch))
                self._writing.add(task)
                task.add_done_callback(self._written)
        finally:
            if self._writing:
                await asyncio.gather(*self._writing, return_exceptions=True)
            lag.cancel()
            # Before the connection drains (it would wait for this subscription's queue).
            await puller.stop()

    def stop(self) -> None:
        """Finish the batches in hand, then return (nats-py may swallow a cancellation in fetch)."""
        self._stopping = True

    @property
    def stopping(self) -> bool:
        return self._stopping

    def _written(self, task: asyncio.Task[None]) -> None:
        self._writing.discard(task)
        self._slots.release()
        if not task.cancelled() and task.exception() is not None:
            log.error("writing a batch into %s failed", self._table, exc_info=task.exception())

    async def _write(self, batch: list[Msg]) -> None:
        spec = self._spec
        spans = self._spans(batch)
        # By identity: nats-py's Msg is a dataclass compared field by field, and a batch holds
        # thousands.
        unacked = {id(msg): msg for msg in batch}
        # While PostgreSQL is slow or away, JetStream must not hand the batch out again: that
        # would pile redeliveries on top of the writes that are already stuck.
        heartbeat = asyncio.create_task(self._keep_in_progress(unacked))
        try:
            messages: list[M] = []
            decoded: list[Msg] = []
            decoded_spans: list[trace.Span] = []
            for msg, span in zip(batch, spans, strict=True):
                note_delivery(msg, spec)
                try:
                    messages.append(self._decode(msg.data, stream_sequence(msg.reply)))
                except ValidationError as err:
                    MESSAGES_DROPPED.labels(self._table).inc()
                    mark_error(span, "undecodable message")
                    log_failure(
                        log,
                        err,
                        "undecodable stream message %s goes to dead letters",
                        stream_sequence(msg.reply),
                    )
                    await self._dead_letter(
                        msg,
                        DeadLetterKind.UNDECODABLE,
                        describe_error(err),
                        delivery_count(msg.reply),
                    )
                    del unacked[id(msg)]
                else:
                    decoded.append(msg)
                    decoded_spans.append(span)
            if messages:
                await self._write_isolating(messages, decoded, decoded_spans, unacked)
        finally:
            heartbeat.cancel()
            for span in spans:
                span.end()

    async def _write_isolating(
        self,
        messages: list[M],
        batch: list[Msg],
        spans: list[trace.Span],
        unacked: dict[int, Msg],
    ) -> None:
        """Insert ``messages`` (one transaction), ack after the commit. A failure about the data
        splits the batch until the failing messages are alone; one that fails alone
        ``max_attempts`` times goes to dead letters (``poison.Isolation``). Any other failure
        is retried with the messages unacked, so nothing is lost meanwhile."""
        plan = Isolation(
            len(batch), self._max_attempts, lambda i: delivery_count(batch[i].reply) - 1
        )
        while (group := plan.next()) is not None:
            try:
                await self._insert_group([messages[i] for i in group], [spans[i] for i in group])
            except Exception as err:
                WRITE_ERRORS.labels(self._table).inc()
                fault = data_fault(err)
                step = plan.failed(group, fault)
                if step is Step.SPLIT:
                    log.warning(
                        "writing %d messages into %s failed for their data (%s); in halves",
                        len(group),
                        self._table,
                        fault,
                    )
                    continue
                if step is Step.DEAD_LETTER:
                    [index] = group
                    msg = batch[index]
                    mark_error(spans[index], "refused by the store")
                    await self._dead_letter(
                        msg, DeadLetterKind.REJECTED, fault or "", plan.attempts(index)
                    )
                    del unacked[id(msg)]
                    continue
                if step is Step.RETRY:
                    log.exception(
                        "writing %d messages into %s failed; retrying", len(group), self._table
                    )
                else:
                    log.warning(
                        "a message failed alone for its data (%s), attempt %d of %d; retrying",
                        fault,
                        plan.attempts(group[0]),
                        self._max_attempts,
                    )
                await asyncio.sleep(self._retry_delay)
                continue
            plan.committed(group)
            await ack_all(self._nc, [batch[index] for index in group])
            for index in group:
                del unacked[id(batch[index])]
            MESSAGES_WRITTEN.labels(self._table).inc(len(group))

    async def _dead_letter(
        self, msg: Msg, kind: DeadLetterKind, reason: str, attempts: int
    ) -> None:
        """Store ``msg`` in DEAD_LETTERS, then ack it; retried until stored (NATS away: the
        message stays unacked meanwhile, nothing is lost)."""
        while True:
            try:
                await self._dead_letters.publish(msg, kind=kind, reason=reason, attempts=attempts)
                break
            except Exception:
                log.exception("storing a dead letter failed; retrying")
                await asyncio.sleep(self._retry_delay)
        await msg.ack()

    def _decode(self, data: bytes, stream_seq: int) -> M:
        message = self._model.decode(data)
        return message if self._at_sequence is None else self._at_sequence(message, stream_seq)

    async def process_again(self, data: bytes, headers: dict[str, str]) -> Fault | None:
        """A dead letter replayed (``switchboard-dead-letters replay``): decoded and inserted
        once, as a batch of one. None when stored; the fault when it fails for its data again;
        raises when it fails otherwise (the dead letter is kept)."""
        try:
            message = self._decode(data, int(headers.get(SEQUENCE_HEADER, 0)))
        except ValidationError as err:
            return DeadLetterKind.UNDECODABLE, describe_error(err)
        try:
            await self._insert_group([message], [trace.INVALID_SPAN])
        except Exception as err:
            fault = data_fault(err)
            if fault is None:
                raise
            return DeadLetterKind.REJECTED, fault
        MESSAGES_WRITTEN.labels(self._table).inc()
        return None

    def _spans(self, batch: list[Msg]) -> list[trace.Span]:
        """A CONSUMER span per message, or ``INVALID_SPAN`` (no span) for a message whose
        caller was not recorded under a sampler that follows it: such a span would be only the
        caller's context, and most chat messages are such (1 % of traces are recorded by
        default). Consecutive messages with the same trace context that the sampler did not
        record share one (a broadcast's page: one context for all its entries)."""
        spans: list[trace.Span] = []
        shared: trace.Span | None = None
        shared_context: tuple[str, str | None] | None = None
        for msg in batch:
            headers = msg.headers or {}
            if caller_unrecorded(headers):
                spans.append(trace.INVALID_SPAN)
                continue
            parent = headers.get("traceparent")
            context = None if parent is None else (parent, headers.get("tracestate"))
            if shared is not None and context == shared_context:
                spans.append(shared)
                continue
            span = start_consumer_span(
                msg.subject,
                msg.headers,
                group=self._spec.durable,
                body_size=len(msg.data),
                batch_size=len(batch),
            )
            spans.append(span)
            # Without a context each message starts a trace of its own: never shared.
            shared, shared_context = (
                (span, context) if context is not None and not span.is_recording() else (None, None)
            )
        return spans

    def _insert_span(
        self, size: int, traced: list[trace.Span]
    ) -> AbstractContextManager[trace.Span]:
        """The batch's insert: a CLIENT span, child of the first traced message's span and
        linked to the others."""
        return tracer().start_as_current_span(
            f"INSERT {self._table}",
            context=trace.set_span_in_context(traced[0]),
            kind=trace.SpanKind.CLIENT,
            links=[trace.Link(span.get_span_context()) for span in traced[1:]],
            attributes={
                "db.system.name": "postgresql",
                "db.operation.name": "INSERT",
                "db.collection.name": self._table,
                "db.operation.batch.size": size,
            },
        )

    async def _keep_in_progress(self, unacked: dict[int, Msg]) -> None:
        """Tell JetStream the messages still unacked are being worked on, well within its ack
        wait."""
        interval = self._spec.ack_wait_seconds / 3
        while True:
            await asyncio.sleep(interval)
            for msg in list(unacked.values()):
                try:
                    await msg.in_progress()
                except Exception:  # NATS away: it redelivers later, harmlessly
                    log.debug("could not extend the ack wait of a batch")
                    break

    async def _insert_group(self, messages: list[M], spans: list[trace.Span]) -> None:
        """One insert, measured. The insert is a CLIENT span, child of the first message's span
        and linked to the others; none when no message has one (every caller unrecorded: the
        span would not be recorded either)."""
        traced = [span for span in spans if span is not trace.INVALID_SPAN]
        started = time.perf_counter()
        if traced:
            with self._insert_span(len(messages), traced):
                await self._insert(messages)
        else:
            await self._insert(messages)
        WRITE_DURATION.labels(self._table).observe(time.perf_counter() - started)
        WRITE_BATCH_SIZE.labels(self._table).observe(len(messages))
