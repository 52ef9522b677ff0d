"""Serving a request/reply endpoint: decode, handle concurrently (bounded), reply, never crash.

``Bus.serve`` is how services use it. A request that cannot be decoded, or whose handler
raises, is answered with the endpoint's error reply: ``invalid_frame`` (undecodable),
``unavailable`` (a JetStream publish never acked: ``PublishUnavailableError``), ``internal``
(anything else). A handler may still answer an error reply of its own.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from pydantic import ValidationError
from switchboard_contracts import BusError, BusMessage, ErrorCode
from switchboard_contracts.endpoints import Endpoint

from switchboard_runtime.messaging.publish_retry import PublishUnavailableError
from switchboard_runtime.service.activity import ACTIVITY
from switchboard_runtime.telemetry.logs import log_failure
from switchboard_runtime.telemetry.metrics import (
    BUS_HANDLED_REQUESTS,
    BUS_HANDLER_DURATION,
    BUS_MESSAGES_RECEIVED,
    child,
    service_name,
    subject_template,
)
from switchboard_runtime.telemetry.tracing import consumer_span, mark_error

__all__ = ["serve_endpoint"]

log = logging.getLogger(__name__)

Req = TypeVar("Req", bound=BusMessage)
Rep = TypeVar("Rep", bound=BusMessage)


async def serve_endpoint(
    nc: Client,
    endpoint: Endpoint[Req, Rep],
    handle: Callable[[Req], Awaitable[Rep]],
    *,
    concurrency: int = 256,
) -> Subscription:
    """Subscribe ``handle`` to the endpoint's subject in its queue group; up to ``concurrency``
    run at once.

    Each request is handled in a CONSUMER span (child of the requester's) and counted by outcome.
    """
    subject, queue, request_type = endpoint.subject, endpoint.queue, endpoint.request_type
    on_error = endpoint.error_reply
    slots = asyncio.Semaphore(concurrency)
    tasks: set[asyncio.Task[None]] = set()
    family = subject_template(subject)

    async def answer(msg: Msg) -> None:
        service = service_name()
        started = time.perf_counter()
        outcome = "ok"
        try:
            with consumer_span(subject, msg.headers, group=queue, body_size=len(msg.data)) as span:
                try:
                    request = request_type.decode(msg.data)
                except ValidationError as err:
                    outcome = "invalid"
                    mark_error(span, "undecodable request")
                    reply = on_error(BusError(code=ErrorCode.INVALID_FRAME, message=str(err)))
                else:
                    try:
                        reply = await handle(request)
                    except PublishUnavailableError as err:
                        outcome = "unavailable"
                        mark_error(span, type(err).__name__)
                        log.warning("handling %s: %s", subject, err)
                        reply = on_error(err.error)
                    except Exception as err:
                        outcome = "error"
                        mark_error(span, type(err).__name__)
                        log_failure(log, err, "handling %s failed", subject)
                        reply = on_error(
                            BusError(code=ErrorCode.INTERNAL, message=f"{subject} failed; retry")
                        )
                if msg.reply:
                    # Not msg.respond: that sends the request's headers back with the reply,
                    # which nobody reads and both sides would encode and parse.
                    await nc.publish(msg.reply, reply.encode())
        finally:
            slots.release()
            child(BUS_HANDLED_REQUESTS, service, family, outcome).inc()
            child(BUS_HANDLER_DURATION, service, family).observe(time.perf_counter() - started)

    async def on_message(msg: Msg) -> None:
        child(BUS_MESSAGES_RECEIVED, service_name(), family).inc()
        ACTIVITY.request()  # a request served, for metrics-collector's requestsPerSecond
        await slots.acquire()
        task = asyncio.create_task(answer(msg))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    return await nc.subscribe(subject, queue=queue, cb=on_message)
