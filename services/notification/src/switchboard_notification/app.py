"""The notification service process: owns the NOTIFY stream."""

import contextlib
import dataclasses
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from switchboard_contracts import streams
from switchboard_runtime import Bus, Health, ensure_stream, service_routes, start_reporting

from switchboard_notification.settings import NotificationSettings

__all__ = ["create_app"]


def create_app(settings: NotificationSettings) -> Starlette:
    health = Health()
    bus = Bus(settings, name="notification")
    health.add_check("nats", lambda: bus.connected)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await bus.connect()
        reporting = await start_reporting(bus, settings, "notification")
        await ensure_stream(
            bus.js, dataclasses.replace(streams.NOTIFY, replicas=settings.stream_replicas)
        )
        try:
            yield
        finally:
            health.draining = True
            await reporting.stop()
            await bus.close()

    return Starlette(routes=service_routes(health), lifespan=lifespan)
