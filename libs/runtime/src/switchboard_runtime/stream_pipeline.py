"""Pipelined JetStream publishes (many in flight, their acks collected on one subscription),
and the newest message of many subjects in one request.

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
from nats.js.api import Header
from nats.js.errors import APIError, NoStreamResponseError

__all__ = ["StoredMessage", "StreamAck", "StreamPipeline"]

NO_RESPONDERS = "503"
END_OF_BATCH = "204"
NO_RESULTS = "404"


@dataclass(frozen=True, slots=True)
class StreamAck:
    """JetStream's answer to a stored publish."""

    stream: str
    seq: int
    duplicate: bool


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """A message as the stream holds it: its stream sequence and body."""

    seq: int
    data: bytes


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

    async def last_messages(
        self, stream: str, subjects: list[str], *, timeout: float
    ) -> dict[str, StoredMessage]:
        """The newest message of each subject that has one, in one request (a direct get with
        ``multi_last``; the stream needs ``allow_direct``). Any replica may answer, so a head
        read here can lag behind an ack: use it only where a stale answer is caught anyway
        (a publish that states the sequence it expects)."""
        if not subjects:
            return {}
        found: dict[str, StoredMessage] = {}
        ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        async def on_reply(msg: Msg) -> None:
            headers = msg.headers or {}
            status = headers.get(Header.STATUS)
            if status is None:
                subject, seq = headers.get("Nats-Subject"), headers.get("Nats-Sequence")
                if subject is not None and seq is not None:
                    found[subject] = StoredMessage(int(seq), msg.data)
            elif not ended.done():
                if status in (END_OF_BATCH, NO_RESULTS):
                    ended.set_result(None)
                else:
                    description = headers.get(Header.DESCRIPTION)
                    ended.set_exception(APIError(code=int(status), description=description))

        inbox = self._nc.new_inbox()
        subscription = await self._nc.subscribe(inbox, cb=on_reply)
        try:
            request = {"multi_last": subjects, "batch": len(subjects)}
            await self._nc.publish(
                f"$JS.API.DIRECT.GET.{stream}", json.dumps(request).encode(), reply=inbox
            )
            async with asyncio.timeout(timeout):
                await ended
        finally:
            await subscription.unsubscribe()
        return found

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
