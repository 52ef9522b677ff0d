"""Log records from every service, relayed to the dashboards under a cluster-wide rate limit.
Pure: fed records and the time, it says which entries to publish."""

from switchboard_contracts.dashboard import LogEntry, LogRecord
from switchboard_contracts.ids import ID_PATTERN
from switchboard_runtime.telemetry.log_forwarding import LogGate

__all__ = ["LogRelay"]

SOURCE = "metrics-collector"


class LogRelay:
    def __init__(self, rate_per_second: float, burst: float) -> None:
        self._gate = LogGate(rate_per_second, burst)

    def relay(self, record: LogRecord, now: float) -> list[LogEntry]:
        """The entries to publish for ``record``: none when the rate is exceeded, else the entry,
        after a notice of how many were dropped before it."""
        if not ID_PATTERN.fullmatch(record.source):
            return []
        admitted, dropped = self._gate.admit(now)
        if not admitted:
            return []
        entries = []
        if dropped:
            entries.append(
                LogEntry(
                    level="warning",
                    message=f"{dropped} log records were dropped (cluster-wide log rate limit)",
                    source=SOURCE,
                    timestamp=record.timestamp,
                )
            )
        entries.append(
            LogEntry(
                level=record.level,
                message=record.message,
                source=record.source,
                instance=record.instance,
                logger=record.logger,
                timestamp=record.timestamp,
            )
        )
        return entries
