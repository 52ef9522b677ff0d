"""Pipelined JetStream publishes: many in flight, their acks collected on one subscription.

Each publish gets a reply subject ``<inbox>.<n>`` under one wildcard subscription and a future;
the caller waits for a whole batch at once, with its own timeout, and cancels what did not come
back (a cancelled future is forgotten; a late ack for it is dropped). nats-py's own
``publish_async`` does the same, but its reply handler raises a refusal (a "wrong last
sequence", say) instead of putting it into the future, which then never completes: a batch with
one conflict would wait out its whole timeout. Here every answer completes its future.
"""

import asyncio
import json
from dataclasses import dataclass

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.errors import APIError, NoStreamResponseError

__all__ = ["StreamAck", "StreamPipeline"]

NO_RESPONDERS = "503"


@dataclass(frozen=True, slots=True)
class StreamAck:
    """JetStream's answer to a stored publish."""

    stream: str
    seq: int
    duplicate: bool


class StreamPipeline:
    """Publishes to JetStream without waiting for one ack before the next publish."""

    def __init__(self, nc: Client) -> None:
        self._nc = nc
        self._prefix = ""
        self._sent = 0
        self._waiting: dict[str, asyncio.Future[StreamAck]] = {}
        self._subscription: Subscription | None = None
        self._starting = asyncio.Lock()

    async def publish(
        self, subject: str, payload: bytes, *, stream: str, headers: dict[str, str]
    ) -> "asyncio.Future[StreamAck]":
        """Send one message (``headers`` gains ``Nats-Expected-Stream``); the future gets its
        ack, or ``APIError`` / ``NoStreamResponseError`` when JetStream refuses it."""
        if self._subscription is None:
            await self._subscribe()
        self._sent += 1
        token = str(self._sent)
        ack: asyncio.Future[StreamAck] = asyncio.get_running_loop().create_future()
        ack.add_done_callback(lambda _: self._waiting.pop(token, None))
        self._waiting[token] = ack
        headers["Nats-Expected-Stream"] = stream
        await self._nc.publish(subject, payload, reply=self._prefix + token, headers=headers)
        return ack

    @property
    def sent(self) -> int:
        """How many messages have been published through this pipeline."""
        return self._sent

    async def close(self) -> None:
        if self._subscription is not None:
            await self._subscription.unsubscribe()
            self._subscription = None
        for ack in list(self._waiting.values()):
            ack.cancel()

    async def _subscribe(self) -> None:
        async with self._starting:
            if self._subscription is None:
                self._prefix = self._nc.new_inbox() + "."
                self._subscription = await self._nc.subscribe(self._prefix + "*", cb=self._on_ack)

    async def _on_ack(self, msg: Msg) -> None:
        ack = self._waiting.get(msg.subject[len(self._prefix) :])
        if ack is None or ack.done():
            return  # given up on (cancelled) before its answer came
        if msg.headers and msg.headers.get("Status") == NO_RESPONDERS:
            ack.set_exception(NoStreamResponseError())
            return
        try:
            answer = json.loads(msg.data)
            if "error" in answer:
                APIError.from_error(answer["error"])  # raises the error's own class
            ack.set_result(
                StreamAck(answer["stream"], int(answer["seq"]), bool(answer.get("duplicate")))
            )
        except APIError as err:
            ack.set_exception(err)
        except (ValueError, KeyError, TypeError) as err:
            ack.set_exception(APIError(description=f"unreadable ack: {err}"))
