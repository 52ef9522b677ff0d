"""Drains the CHAT stream into PostgreSQL with a durable consumer, acking only after commit."""

import asyncio
import logging
import time

from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from opentelemetry import trace
from pydantic import ValidationError
from switchboard_contracts import ChatMessage, streams
from switchboard_runtime import ensure_consumer
from switchboard_runtime.consumer_lag import note_delivery, track_consumer_lag
from switchboard_runtime.logs import log_failure
from switchboard_runtime.tracing import mark_error, start_consumer_span, tracer

from switchboard_persistence.chat_store import ChatStore
from switchboard_persistence.metrics import (
    MESSAGES_DROPPED,
    MESSAGES_WRITTEN,
    WRITE_BATCH_SIZE,
    WRITE_DURATION,
    WRITE_ERRORS,
)

__all__ = ["ChatWriter"]

log = logging.getLogger(__name__)

RETRY_DELAY_SECONDS = 1.0
TABLE = "chat_messages"


class ChatWriter:
    def __init__(self, js: JetStreamContext, store: ChatStore, batch_size: int) -> None:
        self._js = js
        self._store = store
        self._batch_size = batch_size
        self.consuming = False
        self._stopping = False

    async def run(self) -> None:
        spec = streams.PERSISTENCE_CHAT_CONSUMER
        while True:
            try:
                await ensure_consumer(self._js, spec)
                break
            except NotFoundError:
                log.info("waiting for stream %s (created by its owner)", spec.stream)
                await asyncio.sleep(RETRY_DELAY_SECONDS)
        sub = await self._js.pull_subscribe_bind(durable=spec.durable, stream=spec.stream)
        lag = asyncio.create_task(track_consumer_lag(self._js, spec))
        self.consuming = True
        try:
            while not self._stopping:
                try:
                    batch = await sub.fetch(self._batch_size, timeout=1.0)
                except (NatsTimeoutError, TimeoutError):  # nats-py raises either when idle
                    continue
                except Exception:
                    log.exception("fetching from %s failed; retrying", spec.durable)
                    await asyncio.sleep(RETRY_DELAY_SECONDS)
                    continue
                await self._write(batch)
        finally:
            lag.cancel()

    def stop(self) -> None:
        """Finish the batch in hand, then return (nats-py may swallow a cancellation in fetch)."""
        self._stopping = True

    async def _write(self, batch: list[Msg]) -> None:
        """Each message is processed in a span of its own trace, from fetch to ack."""
        spec = streams.PERSISTENCE_CHAT_CONSUMER
        spans = [
            start_consumer_span(
                msg.subject,
                msg.headers,
                group=spec.durable,
                body_size=len(msg.data),
                batch_size=len(batch),
            )
            for msg in batch
        ]
        try:
            messages: list[ChatMessage] = []
            decoded: list[Msg] = []
            decoded_spans: list[trace.Span] = []
            for msg, span in zip(batch, spans, strict=True):
                note_delivery(msg, spec)
                try:
                    messages.append(ChatMessage.decode(msg.data))
                except ValidationError as err:
                    MESSAGES_DROPPED.labels(TABLE).inc()
                    mark_error(span, "undecodable message")
                    log_failure(
                        log,
                        err,
                        "dropping undecodable stream message %s",
                        msg.metadata.sequence.stream,
                    )
                    await msg.term()
                else:
                    decoded.append(msg)
                    decoded_spans.append(span)
            if messages:
                await self._insert(messages, decoded_spans)
            for msg in decoded:
                await msg.ack()
            MESSAGES_WRITTEN.labels(TABLE).inc(len(decoded))
        finally:
            for span in spans:
                span.end()

    async def _insert(self, messages: list[ChatMessage], spans: list[trace.Span]) -> None:
        """One transaction, retried until it commits: unacked, nothing is lost meanwhile."""
        while True:
            started = time.perf_counter()
            try:
                with tracer().start_as_current_span(
                    f"INSERT {TABLE}",
                    context=trace.set_span_in_context(spans[0]),
                    kind=trace.SpanKind.CLIENT,
                    links=[trace.Link(span.get_span_context()) for span in spans[1:]],
                    attributes={
                        "db.system.name": "postgresql",
                        "db.operation.name": "INSERT",
                        "db.collection.name": TABLE,
                        "db.operation.batch.size": len(messages),
                    },
                ):
                    await self._store.insert(messages)
            except Exception:
                WRITE_ERRORS.labels(TABLE).inc()
                log.exception("writing %d chat messages failed; retrying", len(messages))
                await asyncio.sleep(RETRY_DELAY_SECONDS)
                continue
            WRITE_DURATION.labels(TABLE).observe(time.perf_counter() - started)
            WRITE_BATCH_SIZE.labels(TABLE).observe(len(messages))
            return
