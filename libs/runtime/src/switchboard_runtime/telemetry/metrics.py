"""Metrics every service exports (the bus, NATS, JetStream consumers, HTTP, logs), and the name
of the service this process runs, which labels them.

Names follow ``switchboard_<subsystem>_<name>_<unit>``; counters end in ``_total``. Labels are
bounded: ``service`` (one of the five), ``subject`` (a subject *family* such as ``chat.room.>``,
see ``subject_template``; never a room or user id), ``outcome``, ``method``, ``route`` (the
route's template), ``code``, ``level``, ``stream`` and ``consumer`` (fixed names from
``switchboard_contracts.streams``). Each service's own metrics live in its ``metrics`` module.
"""

import functools
from typing import TypeVar, cast

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics
from prometheus_client.metrics import MetricWrapperBase
from switchboard_contracts import subjects

__all__ = [
    "BUILD_INFO",
    "BUS_HANDLED_REQUESTS",
    "BUS_HANDLER_DURATION",
    "BUS_MESSAGES_PUBLISHED",
    "BUS_MESSAGES_RECEIVED",
    "BUS_PUBLISH_RETRIES",
    "BUS_REQUESTS",
    "BUS_REQUEST_DURATION",
    "GC_PAUSE",
    "HTTP_REQUESTS",
    "HTTP_REQUEST_DURATION",
    "JETSTREAM_CONSUMER_ACK_PENDING",
    "JETSTREAM_CONSUMER_PENDING",
    "JETSTREAM_DEAD_LETTERS",
    "JETSTREAM_DEAD_LETTER_REPLAYS",
    "JETSTREAM_REDELIVERIES",
    "LATENCY_BUCKETS",
    "LOG_MESSAGES",
    "NATS_CONNECTED",
    "NATS_DISCONNECTS",
    "NATS_ERRORS",
    "NATS_RECONNECTS",
    "child",
    "service_name",
    "set_service_name",
    "subject_template",
]

# ``_created`` series double the series count for no dashboard's benefit.
disable_created_metrics()  # type: ignore[no-untyped-call]

# Seconds: from a fraction of a millisecond (in-process) to ten seconds (something is wrong).
LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)

_service = "unknown"

W = TypeVar("W", bound=MetricWrapperBase)
_children: dict[tuple[int, tuple[str, ...]], MetricWrapperBase] = {}


def child(metric: W, *labels: str) -> W:
    """``metric.labels(*labels)``, looked up once: the hot paths count every message, and
    ``labels`` checks and locks on each call. Labels are bounded (above), so is this cache."""
    key = (id(metric), labels)
    found = _children.get(key)
    if found is None:
        found = _children[key] = metric.labels(*labels)
    return cast(W, found)


def set_service_name(name: str) -> None:
    """Set once at start (``run_service``): the ``service`` label of every metric here."""
    global _service  # noqa: PLW0603 (one process runs one service)
    _service = name


def service_name() -> str:
    return _service


def _families() -> tuple[tuple[str, ...], ...]:
    """The wildcard subjects the contracts declare (``*_ALL``), as token tuples."""
    found = [
        value
        for name, value in vars(subjects).items()
        if name.endswith("_ALL") and isinstance(value, str)
    ]
    return tuple(tuple(pattern.split(".")) for pattern in sorted(found))


def _constants() -> frozenset[str]:
    return frozenset(
        value for name, value in vars(subjects).items() if name.isupper() and isinstance(value, str)
    )


_FAMILIES = _families()
_CONSTANTS = _constants()


def _matches(pattern: tuple[str, ...], tokens: list[str]) -> bool:
    for index, part in enumerate(pattern):
        if part == ">":
            return len(tokens) > index
        if index >= len(tokens) or (part not in ("*", tokens[index])):
            return False
    return len(tokens) == len(pattern)


@functools.lru_cache(maxsize=4096)
def subject_template(subject: str) -> str:
    """The bounded name of a subject: itself for a fixed subject (``chat.cmd.send``), its family
    for a built one (``chat.room.general`` -> ``chat.room.>``), ``other`` for anything else."""
    if subject in _CONSTANTS:
        return subject
    tokens = subject.split(".")
    for pattern in _FAMILIES:
        if _matches(pattern, tokens):
            return ".".join(pattern)
    return "other"


GC_PAUSE = Histogram(
    "switchboard_process_gc_pause_seconds",
    "How long each garbage collection stopped the process, by generation (2: a full one)",
    ["service", "generation"],
    buckets=LATENCY_BUCKETS,
)
BUILD_INFO = Gauge(
    "switchboard_build_info",
    "1 for each running service process, labelled with its service and version",
    ["service", "version"],
)

BUS_MESSAGES_PUBLISHED = Counter(
    "switchboard_bus_messages_published_total",
    "Messages this service published (core NATS and JetStream), by subject family",
    ["service", "subject"],
)
BUS_PUBLISH_RETRIES = Counter(
    "switchboard_bus_publish_retries_total",
    "JetStream publishes sent again with the same message id after no ack came, by subject family",
    ["service", "subject"],
)
BUS_MESSAGES_RECEIVED = Counter(
    "switchboard_bus_messages_received_total",
    "Messages delivered to this service's subscriptions and consumers, by subject family",
    ["service", "subject"],
)
BUS_REQUESTS = Counter(
    "switchboard_bus_requests_total",
    "Requests this service sent, by outcome: ok, timeout, no_responders, error",
    ["service", "subject", "outcome"],
)
BUS_REQUEST_DURATION = Histogram(
    "switchboard_bus_request_duration_seconds",
    "Time from sending a request to its reply, as the requester saw it",
    ["service", "subject"],
    buckets=LATENCY_BUCKETS,
)
BUS_HANDLED_REQUESTS = Counter(
    "switchboard_bus_handled_requests_total",
    "Requests this service answered, by outcome: ok, invalid (undecodable), error (handler "
    "failed), unavailable (JetStream did not ack in time)",
    ["service", "subject", "outcome"],
)
BUS_HANDLER_DURATION = Histogram(
    "switchboard_bus_handler_duration_seconds",
    "Time this service spent answering a request",
    ["service", "subject"],
    buckets=LATENCY_BUCKETS,
)

NATS_CONNECTED = Gauge(
    "switchboard_nats_connected", "1 while the NATS connection is up, else 0", ["service"]
)
NATS_DISCONNECTS = Counter(
    "switchboard_nats_disconnects_total", "Times the NATS connection was lost", ["service"]
)
NATS_RECONNECTS = Counter(
    "switchboard_nats_reconnects_total", "Times the NATS connection was re-established", ["service"]
)
NATS_ERRORS = Counter(
    "switchboard_nats_errors_total", "Asynchronous errors reported by the NATS client", ["service"]
)

JETSTREAM_CONSUMER_PENDING = Gauge(
    "switchboard_jetstream_consumer_pending_messages",
    "Consumer lag: messages in the stream not yet delivered to the durable consumer",
    ["service", "stream", "consumer"],
)
JETSTREAM_CONSUMER_ACK_PENDING = Gauge(
    "switchboard_jetstream_consumer_ack_pending_messages",
    "Messages delivered to the durable consumer and not acknowledged yet",
    ["service", "stream", "consumer"],
)
JETSTREAM_REDELIVERIES = Counter(
    "switchboard_jetstream_redeliveries_total",
    "Messages the durable consumer received more than once (not acked in time, or nak'd)",
    ["service", "stream", "consumer"],
)
JETSTREAM_DEAD_LETTERS = Counter(
    "switchboard_jetstream_dead_letters_total",
    "Messages a durable consumer could not process, moved to the DEAD_LETTERS stream and acked:"
    " by origin stream and kind (undecodable, rejected by the store, failed every delivery)."
    " Incremented by switchboard_runtime.messaging.dead_letters once the dead letter is stored",
    ["service", "stream", "kind"],
)
JETSTREAM_DEAD_LETTER_REPLAYS = Counter(
    "switchboard_jetstream_dead_letter_replays_total",
    "Dead letters processed again on an operator's request, by origin stream and outcome"
    " (replayed: stored and removed; failed: back in dead letters; error: left as it was)",
    ["service", "stream", "outcome"],
)

HTTP_REQUESTS = Counter(
    "switchboard_http_requests_total",
    "HTTP requests served, by method, route template and status code",
    ["service", "method", "route", "code"],
)
HTTP_REQUEST_DURATION = Histogram(
    "switchboard_http_request_duration_seconds",
    "Time to the end of the HTTP response (streams: the whole stream)",
    ["service", "method", "route"],
    buckets=LATENCY_BUCKETS,
)

LOG_MESSAGES = Counter(
    "switchboard_log_messages_total",
    "Log records written, by level (a rising ERROR rate is worth a look)",
    ["service", "level"],
)
