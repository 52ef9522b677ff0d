"""The metrics-collector process: every service's reports and log records in; dashboards'
metrics, alerts and log tail out."""

import contextlib
import time
from collections.abc import AsyncIterator

from nats.aio.msg import Msg
from pydantic import ValidationError
from starlette.applications import Starlette
from switchboard_contracts import ServiceReport, subjects
from switchboard_contracts.dashboard import LogRecord
from switchboard_runtime import Bus, Health, service_routes, start_reporting

from switchboard_metrics_collector.alerts import AlertEvaluator
from switchboard_metrics_collector.cluster import ClusterView
from switchboard_metrics_collector.dashboard import DashboardPublisher
from switchboard_metrics_collector.host import HostSampler
from switchboard_metrics_collector.log_relay import LogRelay
from switchboard_metrics_collector.metrics import (
    CLUSTER_CONNECTIONS,
    LIVE_INSTANCES,
    REPORTS_INVALID,
    REPORTS_RECEIVED,
    SERVICES,
)
from switchboard_metrics_collector.settings import MetricsCollectorSettings

__all__ = ["create_app"]


def create_app(settings: MetricsCollectorSettings) -> Starlette:
    health = Health()
    bus = Bus(settings, name="metrics-collector")
    health.add_check("nats", lambda: bus.connected)
    cluster = ClusterView(int(settings.report_stale_after_seconds * 1000))

    async def publish(subject: str, data: bytes) -> None:
        await bus.nc.publish(subject, data)

    dashboard = DashboardPublisher(
        publish,
        cluster=cluster,
        sampler=HostSampler(settings.disk_path),
        evaluator=AlertEvaluator(settings.alert_rules),
        relay=LogRelay(settings.log_relay_rate_per_second, settings.log_relay_burst),
        teams=settings.dashboard_teams,
        interval_seconds=settings.metrics_interval_seconds,
    )

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

    async def on_log(msg: Msg) -> None:
        with contextlib.suppress(ValidationError):
            await dashboard.on_log(LogRecord.decode(msg.data))

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await bus.connect()
        # Periodic telemetry, not traced: a span per report per second would bury the traces.
        await bus.nc.subscribe(subjects.METRICS_REPORT_ALL, cb=on_report)
        await bus.nc.subscribe(subjects.LOGS_RECORD_ALL, cb=on_log)
        reporting = await start_reporting(bus, settings, "metrics-collector")
        dashboard.start()
        try:
            yield
        finally:
            health.draining = True
            await dashboard.stop()
            await reporting.stop()
            await bus.close()

    return Starlette(routes=service_routes(health), lifespan=lifespan)
