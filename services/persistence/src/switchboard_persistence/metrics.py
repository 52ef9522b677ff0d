"""The persistence service's metrics, ``switchboard_persistence_*``. Label ``table``: the table a
stream is written to (``chat_messages``; the notification writer adds its own table name)."""

from prometheus_client import Counter, Histogram
from switchboard_runtime.telemetry.metrics import LATENCY_BUCKETS

__all__ = [
    "MESSAGES_DROPPED",
    "MESSAGES_WRITTEN",
    "READ_MARKS_STORED",
    "USERS_ERASED",
    "WRITE_BATCH_SIZE",
    "WRITE_DURATION",
    "WRITE_ERRORS",
    "WRITE_TABLES",
]

WRITE_TABLES = ("chat_messages", "notifications")

WRITE_BATCH_SIZE = Histogram(
    "switchboard_persistence_write_batch_messages",
    "Messages per batch written to PostgreSQL in one statement",
    ["table"],
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000),
)
WRITE_DURATION = Histogram(
    "switchboard_persistence_write_duration_seconds",
    "Time of one successful batch write (one transaction)",
    ["table"],
    buckets=LATENCY_BUCKETS,
)
MESSAGES_WRITTEN = Counter(
    "switchboard_persistence_messages_written_total",
    "Stream messages written (or found already written) and acked",
    ["table"],
)
WRITE_ERRORS = Counter(
    "switchboard_persistence_write_errors_total",
    "Failed batch writes: retried with the batch unacked, or, when the failure is about the"
    " data, split until the refused messages are alone (see switchboard_jetstream_dead_letters)",
    ["table"],
)
MESSAGES_DROPPED = Counter(
    "switchboard_persistence_messages_dropped_total",
    "Stream messages that could not be decoded (moved to the DEAD_LETTERS stream, then acked)",
    ["table"],
)
READ_MARKS_STORED = Counter(
    "switchboard_persistence_read_marks_stored_total",
    "Read marks of rooms stored (room_reads; a mark below the stored one counts, changing nothing)",
)

for _table in WRITE_TABLES:
    for _metric in (WRITE_BATCH_SIZE, WRITE_DURATION, MESSAGES_WRITTEN, WRITE_ERRORS):
        _metric.labels(_table)
    MESSAGES_DROPPED.labels(_table)

USERS_ERASED = Counter(
    "switchboard_persistence_users_erased_total",
    "Erasures of a user's content done (docs/protocol.md §4, 'Erase a user'), reruns included",
)
