"""Times on the wire (docs/protocol.md): Unix epoch milliseconds, and ISO 8601 in UTC with
milliseconds where a frame shows a moment to people (presence's ``connectedAt``)."""

import time
from datetime import UTC, datetime

__all__ = ["iso_time", "now_ms"]


def now_ms() -> int:
    return int(time.time() * 1000)


def iso_time(ms: int) -> str:
    """Epoch milliseconds as ISO 8601 in UTC, e.g. ``2025-11-26T09:40:00.000Z``."""
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
