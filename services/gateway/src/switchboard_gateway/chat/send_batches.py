"""Clients' chat sends gathered into batches: one bus request to chat for many messages.

Each message as its own request cost the gateway, NATS and chat a request, a reply and their
bookkeeping; chat then stored it in a JetStream round trip of its own. A batch costs that once,
and chat stores a batch's messages pipelined (``chat.cmd.send-batch``).

When a batch leaves: a send that finds fewer than ``max_in_flight`` batches on their way, and
the last one sent at least ``interval`` ago, leaves at the end of the event loop's turn, with
every send that arrived in that turn; otherwise the sends wait, gathering, until both hold
again. So a lone message on an idle gateway waits for nothing, and under load the batches grow
with the rate (at most one per ``interval``) instead of the requests multiplying. A batch holds
at most ``max_requests`` sends and about ``max_bytes`` of JSON.

A batch answered with an error (nobody answered in time: ``unavailable``) answers every send in
it with that error, as each request alone would have been; the client retries with its
``clientMsgId`` and chat stores the message once. I/O-free apart from ``ask``: unit-tested with
a fake.
"""

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable

from switchboard_contracts import BusError, ChatSendReply, ChatSendRequest, ErrorCode
from switchboard_contracts.chat import MAX_SEND_BATCH, ChatSendBatchReply, ChatSendBatchRequest

__all__ = ["MAX_BATCH_BYTES", "SendBatcher", "encoded_size_bound"]

log = logging.getLogger(__name__)

MAX_BATCH_BYTES = 512 * 1024
"""A batch stays well under NATS's default ``max_payload`` (1 MiB)."""

Ask = Callable[[ChatSendBatchRequest], Awaitable[ChatSendBatchReply]]
OnReply = Callable[[ChatSendReply], None]
Pending = tuple[ChatSendRequest, OnReply]


def encoded_size_bound(request: ChatSendRequest) -> int:
    """At least the request's JSON size: every character escaped (``\\u001f``) at worst."""
    text = len(request.content) + len(request.room) + len(request.user_id)
    text += len(request.sender_name or "") + len(request.client_msg_id or "")
    return 6 * text + 128


class SendBatcher:
    def __init__(
        self,
        ask: Ask,
        *,
        interval: float,
        max_in_flight: int,
        max_requests: int = MAX_SEND_BATCH,
        max_bytes: int = MAX_BATCH_BYTES,
    ) -> None:
        self._ask = ask
        self._interval = interval
        self._max_in_flight = max_in_flight
        self._max_requests = max_requests
        self._max_bytes = max_bytes
        self._queue: deque[Pending] = deque()
        self._in_flight = 0
        self._last_sent = -float("inf")
        self._scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def waiting(self) -> int:
        """Sends not yet on their way."""
        return len(self._queue)

    @property
    def in_flight(self) -> int:
        return self._in_flight

    async def send(self, request: ChatSendRequest) -> ChatSendReply:
        """Chat's reply to this request, as ``chat.cmd.send`` would have answered it alone."""
        reply: asyncio.Future[ChatSendReply] = asyncio.get_running_loop().create_future()
        self.submit(request, lambda answer: None if reply.done() else reply.set_result(answer))
        return await reply

    def submit(self, request: ChatSendRequest, on_reply: OnReply) -> None:
        """Send ``request``; ``on_reply`` gets chat's reply (called once, from the event loop).
        No task per message: a WebSocket session hands its sends over this way."""
        self._queue.append((request, on_reply))
        self._schedule()

    def _schedule(self) -> None:
        if self._scheduled or not self._queue or self._in_flight >= self._max_in_flight:
            return  # a flush is due already, or a batch coming back will schedule one
        loop = asyncio.get_running_loop()
        self._scheduled = True
        wait = self._last_sent + self._interval - loop.time()
        if wait > 0:
            loop.call_later(wait, self._flush)
        else:
            loop.call_soon(self._flush)  # after the rest of this turn's sends arrived

    def _flush(self) -> None:
        self._scheduled = False
        if not self._queue or self._in_flight >= self._max_in_flight:
            return
        batch = self._take()
        self._in_flight += 1
        self._last_sent = asyncio.get_running_loop().time()
        task = asyncio.create_task(self._send(batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        self._schedule()  # what did not fit waits for the interval, or for a free slot

    def _take(self) -> list[Pending]:
        batch = [self._queue.popleft()]
        size = encoded_size_bound(batch[0][0])
        while self._queue and len(batch) < self._max_requests:
            size += encoded_size_bound(self._queue[0][0])
            if size > self._max_bytes:
                break
            batch.append(self._queue.popleft())
        return batch

    async def _send(self, batch: list[Pending]) -> None:
        try:
            replies = await self._replies([request for request, _ in batch])
            for (_, on_reply), reply in zip(batch, replies, strict=True):
                try:
                    on_reply(reply)
                except Exception:  # one sender's failure is not the batch's
                    log.exception("handing a chat reply over failed")
        finally:
            self._in_flight -= 1
            self._schedule()

    async def _replies(self, requests: list[ChatSendRequest]) -> list[ChatSendReply]:
        try:
            answer = await self._ask(ChatSendBatchRequest(requests=requests))
        except Exception:
            log.exception("sending a batch of %d chat messages failed", len(requests))
            answer = ChatSendBatchReply(error=_error("sending the message failed; retry"))
        if answer.error is None and len(answer.replies) != len(requests):
            log.error("chat answered %d of %d sends", len(answer.replies), len(requests))
            answer = ChatSendBatchReply(error=_error("chat gave an incomplete answer; retry"))
        if answer.error is not None:
            return [ChatSendReply(error=answer.error)] * len(requests)
        return answer.replies


def _error(message: str) -> BusError:
    return BusError(code=ErrorCode.INTERNAL, message=message)
