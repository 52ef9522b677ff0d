"""The metrics-collector process: listens to every service's reports."""

import contextlib
import time
from collections.abc import AsyncIterator

from nats.aio.msg import Msg
from pydantic import ValidationError
from starlette.applications import Starlette
from switchboard_contracts import ServiceReport, subjects
from switchboard_runtime import Bus, Health, service_routes

from switchboard_metrics_collector.cluster import ClusterView
from switchboard_metrics_collector.metrics import (
    CLUSTER_CONNECTIONS,
    LIVE_INSTANCES,
    REPORTS_INVALID,
    REPORTS_RECEIVED,
    SERVICES,
)
from switchboard_metrics_collector.settings import MetricsCollectorSettings

__all__ = ["create_app"]

STALE_AFTER_MS = 5_000


def create_app(settings: MetricsCollectorSettings) -> Starlette:
    health = Health()
    bus = Bus(settings, name="metrics-collector")
    health.add_check("nats", lambda: bus.connected)
    cluster = ClusterView(STALE_AFTER_MS)

    async def on_report(msg: Msg) -> None:
        try:
            cluster.record(ServiceReport.decode(msg.data))
        except ValidationError:
            REPORTS_INVALID.inc()
            return
        REPORTS_RECEIVED.inc()
        now = int(time.time() * 1000)
        live = cluster.live(now)
        for service in SERVICES:
            LIVE_INSTANCES.labels(service).set(sum(1 for r in live if r.service == service))
        CLUSTER_CONNECTIONS.set(sum(report.active_connections for report in live))

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await bus.connect()
        # Periodic telemetry, not traced: a span per report per second would bury the traces.
        await bus.nc.subscribe(subjects.METRICS_REPORT_ALL, cb=on_report)
        try:
            yield
        finally:
            health.draining = True
            await bus.close()

    return Starlette(routes=service_routes(health), lifespan=lifespan)
