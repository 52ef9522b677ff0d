"""Serving request/reply subjects: decode, handle concurrently (bounded), reply, never crash."""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from pydantic import ValidationError
from switchboard_contracts import BusError, BusMessage, ErrorCode

from switchboard_runtime.activity import ACTIVITY

__all__ = ["serve_requests"]

log = logging.getLogger(__name__)

Req = TypeVar("Req", bound=BusMessage)
Rep = TypeVar("Rep", bound=BusMessage)


async def serve_requests(
    nc: Client,
    subject: str,
    queue: str,
    request_type: type[Req],
    handle: Callable[[Req], Awaitable[Rep]],
    *,
    on_error: Callable[[BusError], Rep],
    concurrency: int = 256,
) -> Subscription:
    """Subscribe ``handle`` to ``subject`` in a queue group; up to ``concurrency`` run at once."""
    slots = asyncio.Semaphore(concurrency)
    tasks: set[asyncio.Task[None]] = set()

    async def answer(msg: Msg) -> None:
        try:
            try:
                request = request_type.decode(msg.data)
            except ValidationError as err:
                reply = on_error(BusError(code=ErrorCode.INVALID_FRAME, message=str(err)))
            else:
                try:
                    reply = await handle(request)
                except Exception:
                    log.exception("handling %s failed", subject)
                    reply = on_error(
                        BusError(code=ErrorCode.INTERNAL, message=f"{subject} failed; retry")
                    )
            if msg.reply:
                await msg.respond(reply.encode())
        finally:
            slots.release()

    async def on_message(msg: Msg) -> None:
        ACTIVITY.request()  # a request served, for metrics-collector's requestsPerSecond
        await slots.acquire()
        task = asyncio.create_task(answer(msg))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    return await nc.subscribe(subject, queue=queue, cb=on_message)
