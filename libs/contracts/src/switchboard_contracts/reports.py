"""Each service's periodic report to metrics-collector (``metrics.report.<service>``)."""

from switchboard_contracts.message import BusMessage

__all__ = ["ServiceReport"]


class ServiceReport(BusMessage):
    service: str
    instance: str
    timestamp: int
    active_connections: int = 0
    requests_total: int = 0
