"""The gateway's metrics, ``switchboard_gateway_*``. Labels: ``transport`` (websocket, sse,
longpoll, socketio), ``type`` (a frame type from ``FRAME_TYPES``, else ``other``), ``code`` (a
close code, an HTTP status or an error code; bounded), ``outcome``. Never a room or user id.

Most are fed by the shared layers (``transport.connection_metrics``, ``chat.frames``,
``transport.outbox``, ``chat.room_hub``); feature code increments the rest where it makes the
decision, as each docstring says.
"""

import asyncio

from prometheus_client import Counter, Gauge, Histogram
from switchboard_protocol import ClientFrameType, CloseCode, ServerFrameType

from switchboard_gateway.transport.sse import KEEPALIVE_KIND

__all__ = [
    "CONNECTIONS",
    "CONNECTS",
    "DELIVERY_LATENCY",
    "DISCONNECTS",
    "ERRORS",
    "FRAMES_RECEIVED",
    "FRAMES_SENT",
    "FRAME_TYPES",
    "HANDSHAKE_REFUSALS",
    "NOTIFICATION_DELIVERIES",
    "RATE_LIMITED",
    "READ_EVENTS_PUBLISHED",
    "READ_MARKS",
    "REPLAYS",
    "SLOW_CLIENT_DISCONNECTS",
    "TRANSPORTS",
    "bounded",
    "close_code_label",
    "observe_many",
]

TRANSPORTS = ("websocket", "sse", "longpoll", "socketio")
FRAME_TYPES = frozenset(
    {*map(str, ClientFrameType), *map(str, ServerFrameType), "reset", KEEPALIVE_KIND}
)
"""Every frame type of the protocol (``switchboard_protocol``), and the SSE-only events."""
_CLOSE_CODES = frozenset({*range(CloseCode.NORMAL, CloseCode.NORMAL + 16), *CloseCode})


def bounded(value: str, allowed: frozenset[str]) -> str:
    return value if value in allowed else "other"


def close_code_label(code: int | None) -> str:
    """A WebSocket close code as a label; codes outside the standard ones are ``other``."""
    if code is None:
        return "none"
    return str(code) if code in _CLOSE_CODES else "other"


def observe_many(histogram: Histogram, amount: float, count: int) -> None:
    """``count`` observations of the same ``amount`` at the cost of one: a fan-out's frames are
    written in the same loop turn, so they share one latency. ``histogram`` is a labelled child.

    Uses the client's storage (``_sum``, ``_buckets``, ``_upper_bounds``) as ``observe`` does;
    ``test_metrics`` checks that it matches ``count`` calls of ``observe``.
    """
    histogram._sum.inc(amount * count)
    for bucket, bound in zip(histogram._buckets, histogram._upper_bounds, strict=True):
        if amount <= bound:
            bucket.inc(count)
            return


CONNECTIONS = Gauge(
    "switchboard_gateway_connections",
    "Client connections open now, by transport",
    ["transport"],
)
CONNECTS = Counter(
    "switchboard_gateway_connects_total",
    "Client connections accepted, by transport",
    ["transport"],
)
DISCONNECTS = Counter(
    "switchboard_gateway_disconnects_total",
    "Client connections ended, by transport and close code (WebSocket close code; for SSE and"
    " long-poll the HTTP status of the stream)",
    ["transport", "code"],
)
HANDSHAKE_REFUSALS = Counter(
    "switchboard_gateway_handshake_refusals_total",
    "Connection attempts refused before they were accepted, by transport and HTTP status",
    ["transport", "code"],
)
READ_MARKS = Counter(
    "switchboard_gateway_read_marks_total",
    "Read marks of rooms (read frames, POST .../read), by transport and outcome: stored,"
    " refused (the user may not), unavailable (persistence did not store it; the client retries)",
    ["transport", "outcome"],
)
READ_EVENTS_PUBLISHED = Counter(
    "switchboard_gateway_read_events_published_total",
    "Read marks published to other gateways after coalescing (at most one per user and room per"
    " READ_COALESCE_SECONDS)",
)
FRAMES_RECEIVED = Counter(
    "switchboard_gateway_frames_received_total",
    "Client frames received, by transport and frame type (invalid: unparsable)",
    ["transport", "type"],
)
FRAMES_SENT = Counter(
    "switchboard_gateway_frames_sent_total",
    "Frames written to clients, by transport and frame type",
    ["transport", "type"],
)
ERRORS = Counter(
    "switchboard_gateway_errors_total",
    "Error frames sent to clients, by error code",
    ["code"],
)
RATE_LIMITED = Counter(
    "switchboard_gateway_rate_limited_total",
    "Client frames or requests refused by a rate limit, by transport. Incremented by the rate"
    " limiter's caller each time it refuses one (a 4429 close also counts in DISCONNECTS).",
    ["transport"],
)
SLOW_CLIENT_DISCONNECTS = Counter(
    "switchboard_gateway_slow_client_disconnects_total",
    "Connections closed because their client stopped reading, by transport: a WebSocket whose"
    " outgoing queue was full (1013), an SSE stream whose write was blocked for"
    " SSE_WRITE_TIMEOUT_SECONDS",
    ["transport"],
)
DELIVERY_LATENCY = Histogram(
    "switchboard_gateway_delivery_latency_seconds",
    "From chat accepting a message to a gateway writing it to a client's socket (wall clocks"
    " of two hosts: keep them in sync)",
    ["transport"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
REPLAYS = Counter(
    "switchboard_gateway_replays_total",
    "Replay requests (join with since, SSE Last-Event-ID) by kind (chat, notifications) and"
    " outcome: recovered (the gap was filled) or not_recovered (the client was told to reload)."
    " Incremented by the replay code once it knows the outcome.",
    ["kind", "outcome"],
)
NOTIFICATION_DELIVERIES = Counter(
    "switchboard_gateway_notification_deliveries_total",
    "Notifications written to a client, by transport. Incremented where a notification frame"
    " or SSE event is offered to a connection.",
    ["transport"],
)

# Series that exist from the start, so that rates and alerts see zeros rather than nothing.
for _transport in TRANSPORTS:
    CONNECTIONS.labels(_transport)
    CONNECTS.labels(_transport)
    RATE_LIMITED.labels(_transport)
    SLOW_CLIENT_DISCONNECTS.labels(_transport)
    NOTIFICATION_DELIVERIES.labels(_transport)
DELIVERY_LATENCY.labels("websocket")
for _kind in ("chat", "notifications"):
    for _outcome in ("recovered", "not_recovered"):
        REPLAYS.labels(_kind, _outcome)


class TurnCounter:
    """A counter's child, incremented once per event-loop turn by everything added in that turn:
    each ``inc`` takes a lock, and one broadcast adds thousands in one turn (profiled in
    ``sse_fanout``: a quarter of the gateway's samples per SSE event went to counting it)."""

    __slots__ = ("_child", "_pending")

    def __init__(self, child: Counter) -> None:
        self._child = child
        self._pending = 0

    def add(self) -> None:
        if not self._pending:
            asyncio.get_running_loop().call_soon(self._flush)
        self._pending += 1

    def _flush(self) -> None:
        count, self._pending = self._pending, 0
        self._child.inc(count)
