"""The metrics-collector's metrics, ``switchboard_metrics_collector_*``. Labels: ``service`` (one
of the five, from the reports), ``severity`` (info, warning, critical)."""

from prometheus_client import Counter, Gauge

__all__ = [
    "ALERTS_RAISED",
    "ALERT_SEVERITIES",
    "CLUSTER_CONNECTIONS",
    "LIVE_INSTANCES",
    "REPORTS_INVALID",
    "REPORTS_RECEIVED",
    "SERVICES",
]

ALERT_SEVERITIES = ("info", "warning", "critical")
SERVICES = ("gateway", "chat", "notification", "persistence", "metrics-collector")

REPORTS_RECEIVED = Counter(
    "switchboard_metrics_collector_reports_received_total",
    "Service reports received on metrics.report.>",
)
REPORTS_INVALID = Counter(
    "switchboard_metrics_collector_reports_invalid_total",
    "Service reports that could not be decoded and were ignored",
)
LIVE_INSTANCES = Gauge(
    "switchboard_metrics_collector_live_instances",
    "Instances that reported within the staleness window, by service",
    ["service"],
)
CLUSTER_CONNECTIONS = Gauge(
    "switchboard_metrics_collector_cluster_connections",
    "Client connections across all gateways, from their latest reports",
)
ALERTS_RAISED = Counter(
    "switchboard_metrics_collector_alerts_raised_total",
    "Alerts raised to dashboards (dashboard.alert), by severity. Incremented by the alert rules"
    " evaluator each time it publishes one.",
    ["severity"],
)

for _severity in ALERT_SEVERITIES:
    ALERTS_RAISED.labels(_severity)
for _service in SERVICES:
    LIVE_INSTANCES.labels(_service)
