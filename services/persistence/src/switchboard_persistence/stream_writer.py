"""Drains a JetStream stream into PostgreSQL with a durable consumer, acking only after commit."""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from pydantic import ValidationError
from switchboard_contracts import BusMessage
from switchboard_contracts.streams import ConsumerSpec
from switchboard_runtime import ensure_consumer

__all__ = ["StreamWriter"]

log = logging.getLogger(__name__)

RETRY_DELAY_SECONDS = 1.0

M = TypeVar("M", bound=BusMessage)


class StreamWriter(Generic[M]):
    """Fetches batches of ``model`` messages, writes each batch with ``insert``, then acks it."""

    def __init__(
        self,
        js: JetStreamContext,
        spec: ConsumerSpec,
        model: type[M],
        insert: Callable[[list[M]], Awaitable[None]],
        batch_size: int,
    ) -> None:
        self._js = js
        self._spec = spec
        self._model = model
        self._insert = insert
        self._batch_size = batch_size
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
        sub = await self._js.pull_subscribe_bind(durable=spec.durable, stream=spec.stream)
        self.consuming = True
        while not self._stopping:
            try:
                batch = await sub.fetch(self._batch_size, timeout=1.0)
            except NatsTimeoutError:
                continue
            except Exception:
                log.exception("fetching from %s failed; retrying", spec.durable)
                await asyncio.sleep(RETRY_DELAY_SECONDS)
                continue
            await self._write(batch)

    def stop(self) -> None:
        """Finish the batch in hand, then return (nats-py may swallow a cancellation in fetch)."""
        self._stopping = True

    async def _write(self, batch: list[Msg]) -> None:
        messages: list[M] = []
        decoded: list[Msg] = []
        for msg in batch:
            try:
                messages.append(self._model.decode(msg.data))
            except ValidationError:
                log.exception(
                    "dropping undecodable stream message %s", msg.metadata.sequence.stream
                )
                await msg.term()
            else:
                decoded.append(msg)
        while messages:
            try:
                await self._insert(messages)
                break
            except Exception:
                # Not acked, so nothing is lost: keep the batch and try again.
                log.exception(
                    "writing %d messages from %s failed; retrying",
                    len(messages),
                    self._spec.durable,
                )
                await asyncio.sleep(RETRY_DELAY_SECONDS)
        for msg in decoded:
            await msg.ack()
