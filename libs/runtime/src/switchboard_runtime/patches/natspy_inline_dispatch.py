"""Core NATS subscriptions handled on nats-py's read loop, without a queue and a task each.

nats-py gives every subscription with a callback an ``asyncio.Queue`` and a task that awaits
it: about 2.4 KB per subscription, and a queue hand-off and a task switch per message. A handler
that never waits (it hands the message to in-memory structures, or resolves a future) can run
where nats-py would queue the message instead. ``subscribe_inline`` subscribes without a
callback and puts an ``InlineQueue`` where the subscription keeps its queue; nats-py's read loop
calls ``sub._pending_queue.put_nowait(msg)`` for every message (``test_inline_dispatch`` pins
that), so the handler runs there, in the order the server sent the messages.

The handler must not block. An exception it raises is logged and the message dropped (what
nats-py does with a callback's exception, short of calling ``error_cb``): raised into the read
loop it would cost the connection. There is no pending limit, so no slow-consumer drops: the
handler's own structures bound what it keeps.
"""

import logging
from collections.abc import Callable

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

__all__ = ["InlineQueue", "handle_inline", "subscribe_inline"]

log = logging.getLogger(__name__)

InlineHandler = Callable[[Msg], None]


class InlineQueue:
    """Stands in for a subscription's ``asyncio.Queue``: what nats-py would queue is handled at
    once. Offers the part of the queue's interface nats-py calls on a subscription without a
    callback (put, size, drain's ``join``)."""

    __slots__ = ("_handler", "_subscription")

    def __init__(self, handler: InlineHandler, subscription: Subscription) -> None:
        self._handler = handler
        self._subscription = subscription

    def put_nowait(self, msg: Msg) -> None:
        # nats-py counted the payload as pending before handing it over; nothing stays pending.
        self._subscription._pending_size -= len(msg.data)
        try:
            self._handler(msg)
        except Exception:
            log.exception("an inline handler failed on %s; the message is dropped", msg.subject)

    def empty(self) -> bool:
        return True

    def qsize(self) -> int:
        return 0

    def task_done(self) -> None:
        pass

    async def join(self) -> None:
        return None


async def subscribe_inline(
    nc: Client, subject: str, handler: InlineHandler, queue: str = ""
) -> Subscription:
    """Subscribe ``handler`` to ``subject`` (in queue group ``queue``), called on the read loop.
    The subscription unsubscribes and drains as any other."""
    subscription = await nc.subscribe(subject, queue=queue)
    handle_inline(subscription, handler)
    return subscription


def handle_inline(subscription: Subscription, handler: InlineHandler) -> None:
    """Turn a subscription made without a callback into an inline one. Messages it queued
    before (while ``subscribe`` waited for the server) are handled first, in order."""
    early = subscription._pending_queue
    inline = InlineQueue(handler, subscription)
    subscription._pending_queue = inline  # type: ignore[assignment]
    # Without a callback nats-py made a message iterator holding the queue and a future; no one
    # iterates an inline subscription, so let both go.
    subscription._message_iterator = None
    while not early.empty():
        inline.put_nowait(early.get_nowait())
