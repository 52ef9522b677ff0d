"""The metrics-collector process: listens to every service's reports."""

import contextlib
from collections.abc import AsyncIterator

from nats.aio.msg import Msg
from pydantic import ValidationError
from starlette.applications import Starlette
from switchboard_contracts import ServiceReport, subjects
from switchboard_runtime import Bus, Health, service_routes

from switchboard_metrics_collector.cluster import ClusterView
from switchboard_metrics_collector.settings import MetricsCollectorSettings

__all__ = ["create_app"]

STALE_AFTER_MS = 5_000


def create_app(settings: MetricsCollectorSettings) -> Starlette:
    health = Health()
    bus = Bus(settings, name="metrics-collector")
    health.add_check("nats", lambda: bus.connected)
    cluster = ClusterView(STALE_AFTER_MS)

    async def on_report(msg: Msg) -> None:
        with contextlib.suppress(ValidationError):
            cluster.record(ServiceReport.decode(msg.data))

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await bus.connect()
        await bus.nc.subscribe(subjects.METRICS_REPORT_ALL, cb=on_report)
        try:
            yield
        finally:
            health.draining = True
            await bus.close()

    return Starlette(routes=service_routes(health), lifespan=lifespan)
