"""The notification service process: owns the NOTIFY and NOTIFY_JOBS streams; sends,
broadcasts and reads."""

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from functools import partial

from starlette.applications import Starlette
from switchboard_contracts import endpoints, streams
from switchboard_runtime import (
    Bus,
    Health,
    PublishRetry,
    ensure_stream,
    service_routes,
    start_reporting,
)
from switchboard_runtime.messaging.dead_letters import DeadLetters, serve_replays

import switchboard_notification.metrics  # noqa: F401 (exported, at zero, before the first send)
from switchboard_notification.broadcast import BroadcastWorker, accept_broadcast
from switchboard_notification.reads import ReadHandler
from switchboard_notification.sender import NotificationSender
from switchboard_notification.settings import NotificationSettings

__all__ = ["create_app"]


def create_app(settings: NotificationSettings) -> Starlette:
    health = Health()
    bus = Bus(settings, name="notification")
    health.add_check("nats", lambda: bus.connected)
    timeout = settings.bus_request_timeout_seconds

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await bus.connect()
        reporting = await start_reporting(bus, settings, "notification")
        notify = dataclasses.replace(
            streams.NOTIFY,
            replicas=settings.stream_replicas,
            max_age_seconds=settings.notify_retention_seconds,
        )
        await ensure_stream(bus.js, notify)
        await ensure_stream(
            bus.js, dataclasses.replace(streams.NOTIFY_JOBS, replicas=settings.stream_replicas)
        )
        retry = PublishRetry.from_settings(settings)
        sender = NotificationSender(bus.js, retry)
        reads = ReadHandler(bus, sender, timeout)
        await bus.serve(endpoints.NOTIFICATION_SEND, sender.send)
        await bus.serve(endpoints.NOTIFICATION_BROADCAST, partial(accept_broadcast, bus.js, retry))
        await bus.serve(endpoints.NOTIFICATION_READ, reads.read)
        dead_letters = DeadLetters(bus.js, retry)
        worker = BroadcastWorker(
            bus,
            sender,
            max_attempts=settings.dead_letter_attempts,
            dead_letters=dead_letters,
        )
        await serve_replays(bus, dead_letters, streams.NOTIFY_JOBS.name, worker.process_again)
        expanding = asyncio.create_task(worker.run())
        health.add_check("broadcasts", lambda: worker.consuming and not expanding.done())
        try:
            yield
        finally:
            health.draining = True
            worker.stop()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(expanding, timeout=settings.shutdown_timeout_seconds)
            await reporting.stop()
            await bus.close()

    return Starlette(routes=service_routes(health), lifespan=lifespan)
