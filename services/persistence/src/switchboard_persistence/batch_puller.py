"""Batches from a durable pull consumer, taken from the socket in bulk.

nats-py's ``fetch`` waits for each message of a batch with its own ``wait_for``, which cost
persistence more CPU than the insert. This asks the same JetStream API for a batch and takes
whatever has arrived at once:

- ``no_wait`` for up to ``batch``: the server sends what it has, then a 404 status when that was
  fewer; so a busy consumer gets full batches and nothing stays requested after the call.
- When nothing was there, a request for one message that expires after ``timeout``: an idle
  consumer waits without polling, and the next call collects the rest with ``no_wait``.

A message that arrives after a call gave up (the server's expiry racing ours) waits in the
inbox for the next call, as with nats-py's own fetch.
"""

import asyncio
import json

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from switchboard_contracts.subjects import js_consumer_next

__all__ = ["BatchPuller", "PullStatusError"]

STATUS_HEADER = "Status"
DESCRIPTION_HEADER = "Description"
NO_MESSAGES = "404"
REQUEST_TIMEOUT = "408"
HEARTBEAT = "100"
LOCAL_GRACE_SECONDS = 0.5
"""How much longer than the server's expiry we wait for its answer."""


class PullStatusError(RuntimeError):
    """The server ended a pull request with a status other than "no messages" or "timeout"
    (e.g. 409 "Consumer Deleted") before any message came."""


def _status(msg: Msg) -> str | None:
    if not msg.headers or msg.data:
        return None
    return msg.headers.get(STATUS_HEADER)


class BatchPuller:
    def __init__(self, nc: Client, stream: str, durable: str) -> None:
        self._nc = nc
        self._next_subject = js_consumer_next(stream, durable)
        self._inbox = nc.new_inbox()
        self._sub: Subscription | None = None
        self._queue: asyncio.Queue[Msg] = asyncio.Queue()

    async def start(self) -> None:
        self._sub = await self._nc.subscribe(self._inbox, cb=self._arrived)

    async def stop(self) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()
            self._sub = None

    async def _arrived(self, msg: Msg) -> None:
        self._queue.put_nowait(msg)

    async def fetch(self, batch: int, timeout: float) -> list[Msg]:
        """Up to ``batch`` messages; [] when none came within ``timeout``."""
        msgs = self._take_waiting(batch)
        if len(msgs) == batch:
            return msgs
        await self._request({"batch": batch - len(msgs), "no_wait": True})
        status = await self._collect(msgs, batch, timeout)
        if msgs:
            return msgs
        if status not in (NO_MESSAGES, REQUEST_TIMEOUT):
            raise PullStatusError(f"pull request ended with status {status}")
        expires = max(timeout - LOCAL_GRACE_SECONDS, timeout / 2)
        await self._request({"batch": 1, "expires": int(expires * 1e9)})
        status = await self._collect(msgs, 1, timeout)
        if not msgs and status not in (NO_MESSAGES, REQUEST_TIMEOUT, None):
            raise PullStatusError(f"pull request ended with status {status}")
        return msgs

    def _take_waiting(self, batch: int) -> list[Msg]:
        """Messages already here (a late answer to an earlier request); stale statuses dropped."""
        msgs: list[Msg] = []
        while len(msgs) < batch and not self._queue.empty():
            msg = self._queue.get_nowait()
            if _status(msg) is None:
                msgs.append(msg)
        return msgs

    async def _request(self, request: dict[str, object]) -> None:
        await self._nc.publish(self._next_subject, json.dumps(request).encode(), reply=self._inbox)

    async def _collect(self, msgs: list[Msg], batch: int, timeout: float) -> str | None:
        """Add arriving messages to ``msgs`` until ``batch`` or a status ends the request;
        returns that status (None: batch complete, or our own timeout)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(msgs) < batch:
            if self._queue.empty():
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return None
                try:
                    msg = await asyncio.wait_for(self._queue.get(), remaining)
                except TimeoutError:
                    return None
            else:
                msg = self._queue.get_nowait()
            status = _status(msg)
            if status is None:
                msgs.append(msg)
            elif status != HEARTBEAT:
                return status
        return None
