"""Pipelined JetStream publishes (many in flight, their acks collected on one subscription),
and the newest message of many subjects in one request.

Each publish gets a reply subject ``<inbox>.<n>`` under one wildcard subscription and a future;
the caller waits for a whole batch at once (``AckBatch``, one waiter counted down as answers
arrive), with its own timeout, and ``forget``s what did not come back (those futures are
cancelled; a late ack for one is dropped). nats-py's own
``publish_async`` does the same, but its reply handler raises a refusal (a "wrong last
sequence", say) instead of putting it into the future, which then never completes: a batch with
one conflict would wait out its whole timeout. Here every answer completes its future.
"""

import asyncio
import contextlib
import json
from dataclasses import dataclass

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import Header
from nats.js.errors import APIError, NoStreamResponseError
from pydantic_core import from_json
from switchboard_contracts.subjects import js_direct_get

from switchboard_runtime.patches.natspy_header_block import (
    header_block,
    publish_with_header_block,
)
from switchboard_runtime.patches.natspy_inline_dispatch import subscribe_inline

__all__ = ["AckBatch", "StoredMessage", "StreamAck", "StreamPipeline", "next_messages"]

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


class AckBatch:
    """Publishes whose answers are awaited together: ``wait`` returns once every one has been
    answered (or the timeout passed). Counted as answers arrive, so a batch costs one waiter,
    not a callback per publish."""

    __slots__ = ("_all_answered", "_outstanding")

    def __init__(self) -> None:
        self._outstanding = 0
        self._all_answered: asyncio.Future[None] | None = None

    def sent(self) -> None:
        self._outstanding += 1

    def answered(self) -> None:
        self._outstanding -= 1
        done = self._all_answered
        if self._outstanding == 0 and done is not None and not done.done():
            done.set_result(None)

    async def wait(self, timeout: float) -> None:
        """Until every publish was answered, or ``timeout`` (whichever comes first)."""
        if self._outstanding == 0:
            return
        self._all_answered = asyncio.get_running_loop().create_future()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._all_answered


class StreamPipeline:
    """Publishes to JetStream without waiting for one ack before the next publish."""

    def __init__(self, nc: Client) -> None:
        self._nc = nc
        self._prefix = ""
        self._sent = 0
        self._waiting: dict[str, tuple[asyncio.Future[StreamAck], AckBatch | None]] = {}
        self._subscription: Subscription | None = None
        self._starting = asyncio.Lock()

    async def publish(
        self,
        subject: str,
        payload: bytes,
        *,
        stream: str,
        headers: dict[str, str],
        batch: AckBatch | None = None,
    ) -> "asyncio.Future[StreamAck]":
        """Send one message (``headers`` gains ``Nats-Expected-Stream``); the future gets its
        ack, or ``APIError`` / ``NoStreamResponseError`` when JetStream refuses it. A future
        given up on goes to ``forget``. The header block is encoded in one go
        (``natspy_header_block``), not key by key as nats-py would."""
        if self._subscription is None:
            await self._subscribe()
        headers["Nats-Expected-Stream"] = stream
        header = header_block(headers)
        self._sent += 1
        token = str(self._sent)
        ack: asyncio.Future[StreamAck] = asyncio.get_running_loop().create_future()
        self._waiting[token] = (ack, batch)
        if batch is not None:
            batch.sent()
        try:
            await publish_with_header_block(
                self._nc, subject, payload, reply=self._prefix + token, header=header
            )
        except BaseException:
            self._waiting.pop(token, None)
            if batch is not None:
                batch.answered()  # nothing will answer it
            raise
        return ack

    @property
    def waiting(self) -> int:
        """Publishes sent and neither answered nor forgotten."""
        return len(self._waiting)

    def forget(self, acks: list["asyncio.Future[StreamAck]"]) -> None:
        """Give up on these (cancelled); an answer that comes later is dropped."""
        if not acks:
            return
        for ack in acks:
            ack.cancel()
        self._waiting = {
            token: pending for token, pending in self._waiting.items() if not pending[0].done()
        }

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

        def on_reply(msg: Msg) -> None:
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
        subscription = await subscribe_inline(self._nc, inbox, on_reply)
        try:
            request = {"multi_last": subjects, "batch": len(subjects)}
            await self._nc.publish(js_direct_get(stream), json.dumps(request).encode(), reply=inbox)
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
        self.forget([ack for ack, _ in self._waiting.values()])

    async def _subscribe(self) -> None:
        async with self._starting:
            if self._subscription is None:
                self._prefix = self._nc.new_inbox() + "."
                self._subscription = await subscribe_inline(
                    self._nc, self._prefix + "*", self._on_ack
                )

    def _on_ack(self, msg: Msg) -> None:
        """Answers are handled as they are read (``natspy_inline_dispatch``): no task switch
        each."""
        pending = self._waiting.pop(msg.subject[len(self._prefix) :], None)
        if pending is None:
            return  # given up on (forgotten) before its answer came
        ack, batch = pending
        if not ack.done():
            _answer(ack, msg)
        if batch is not None:
            batch.answered()


def _answer(ack: "asyncio.Future[StreamAck]", msg: Msg) -> None:
    if msg.headers and msg.headers.get("Status") == NO_RESPONDERS:
        ack.set_exception(NoStreamResponseError())
        return
    try:
        answer = from_json(msg.data)  # pydantic-core's parser: a fifth of json.loads' time
        if "error" in answer:
            APIError.from_error(answer["error"])  # raises the error's own class
        ack.set_result(
            StreamAck(answer["stream"], int(answer["seq"]), bool(answer.get("duplicate")))
        )
    except APIError as err:
        ack.set_exception(err)
    except (ValueError, KeyError, TypeError) as err:
        ack.set_exception(APIError(description=f"unreadable ack: {err}"))


async def next_messages(
    nc: Client, stream: str, subject: str, start: int, count: int, *, timeout: float
) -> list[StoredMessage]:
    """Up to ``count`` messages of ``stream`` on ``subject`` (wildcards allowed) from stream
    sequence ``start`` on, in stream order, in one request (a direct get with ``batch``; the
    stream needs ``allow_direct``). Any replica may answer. ``TimeoutError`` when the stream
    does not answer within ``timeout`` (between two of its messages)."""
    inbox = nc.new_inbox()
    subscription = await nc.subscribe(inbox)
    request = {"seq": start, "next_by_subj": subject, "batch": count}
    found: list[StoredMessage] = []
    try:
        await nc.publish(js_direct_get(stream), json.dumps(request).encode(), reply=inbox)
        while True:
            try:
                msg = await subscription.next_msg(timeout=timeout)
            except NatsTimeoutError as err:
                raise TimeoutError(f"the {stream} stream did not answer a batch read") from err
            headers = msg.headers or {}
            if headers.get(Header.STATUS):  # 204 end of batch, 404 nothing (more)
                break
            sequence = headers.get("Nats-Sequence")
            if sequence is not None:
                found.append(StoredMessage(int(sequence), msg.data))
    finally:
        await subscription.unsubscribe()
    return found
