"""Dashboard events in the protocol's shape, encoded once into each form."""

import json

from switchboard_contracts.dashboard import DashboardAlert, DashboardMetrics, LogEntry
from switchboard_gateway.dashboards.events import (
    METRICS_UPDATE,
    DashboardEvent,
    alert_payload,
    log_payload,
    metrics_payload,
)

METRICS = DashboardMetrics(
    cpu_usage=12.34,
    memory_usage=56.78,
    memory_total=8_000,
    disk_usage=90.12,
    uptime=3600.5,
    active_connections=4,
    requests_per_second=2.5,
    timestamp=1764150000000,
)


def test_metrics_payload_has_the_protocol_fields() -> None:
    assert metrics_payload(METRICS) == {
        "cpuUsage": 12.34,
        "memoryUsage": 56.78,
        "memoryTotal": 8_000,
        "diskUsage": 90.12,
        "uptime": 3600.5,
        "activeConnections": 4,
        "requestsPerSecond": 2.5,
        "timestamp": 1764150000000,
    }


def test_alert_and_log_payloads_have_the_protocol_fields() -> None:
    alert = DashboardAlert(
        id="a", severity="info", title="t", message="m", source="s", timestamp=1, rule="r"
    )
    assert alert_payload(alert) == {
        "id": "a",
        "severity": "info",
        "title": "t",
        "message": "m",
        "source": "s",
        "timestamp": 1,
        "resolved": False,
    }
    entry = LogEntry(level="error", message="m", source="chat", timestamp=1)
    assert log_payload(entry) == {
        "level": "error",
        "message": "m",
        "source": "chat",
        "timestamp": 1,
    }


def test_sse_form_is_the_event_name_and_the_payload_as_data() -> None:
    event = DashboardEvent(METRICS_UPDATE, metrics_payload(METRICS))
    text = event.sse()
    assert text.startswith("event: metrics-update\ndata: {")
    assert text.endswith("\n\n")
    assert json.loads(text.split("data: ", 1)[1]) == metrics_payload(METRICS)
    assert event.sse() is text  # encoded once


def test_ws_frame_names_the_dashboard_room() -> None:
    event = DashboardEvent(METRICS_UPDATE, metrics_payload(METRICS))
    frame = json.loads(event.frame("ops"))
    assert frame == {
        "type": "metrics-update",
        "room": "dashboard:ops",
        "timestamp": 1764150000000,
        "payload": metrics_payload(METRICS),
    }
    assert event.frame("ops") is event.frame("ops")
