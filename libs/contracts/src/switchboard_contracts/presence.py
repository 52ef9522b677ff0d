"""Presence and typing on the bus, and the key-value entries gateways write.

A gateway writes one ``PresenceEntry`` per (room, user) it holds connections for, under the key
``<room>.<user>.<gateway>`` of bucket PRESENCE, and refreshes its own heartbeat key in bucket
PRESENCE_GATEWAYS. Chat aggregates the entries (one per user, however many tabs and gateways)
and publishes coalesced ``PresenceSnapshot``\\ s on ``chat.presence.<room>``.
"""

from collections.abc import Iterable
from typing import Any

from pydantic import Field

from switchboard_contracts.errors import BusError
from switchboard_contracts.ids import InvalidIdError, validate_room_id, validate_user_id
from switchboard_contracts.message import BusMessage

__all__ = [
    "GatewayHeartbeat",
    "PresenceEntry",
    "PresenceReply",
    "PresenceRequest",
    "PresenceSnapshot",
    "PresenceUser",
    "TypingEvent",
    "merge_meta",
    "parse_presence_key",
    "presence_key",
]


class PresenceEntry(BusMessage):
    """A user's presence in a room as one gateway sees it (all the user's tabs there merged).

    ``meta_at`` is when ``meta`` last changed; merging entries applies them oldest first, so the
    latest change of a key wins.
    """

    room: str
    user_id: str
    gateway: str
    connected_at: int
    meta: dict[str, Any] = Field(default_factory=dict)
    meta_at: int = 0


class GatewayHeartbeat(BusMessage):
    """A gateway's heartbeat key (bucket PRESENCE_GATEWAYS): while it exists, so do its entries."""

    gateway: str
    instance: str
    started_at: int


class PresenceUser(BusMessage):
    user_id: str
    connected_at: int
    meta: dict[str, Any] = Field(default_factory=dict)


class PresenceSnapshot(BusMessage):
    """chat -> gateways (``chat.presence.<room>``) and the answer to ``chat.cmd.presence``.

    ``revision`` is the PRESENCE bucket revision of the last change to the room: every chat
    instance applies the same changes in the same order, so gateways keep only snapshots newer
    than the one they have. ``users`` is truncated in large rooms; ``count`` is always exact.
    """

    room: str
    revision: int
    count: int
    users: list[PresenceUser] = Field(default_factory=list)
    truncated: bool = False


class PresenceRequest(BusMessage):
    """gateway -> chat (``chat.cmd.presence``). Answered once chat has applied ``min_revision``."""

    room: str
    min_revision: int = 0


class PresenceReply(BusMessage):
    snapshot: PresenceSnapshot | None = None
    error: BusError | None = None


class TypingEvent(BusMessage):
    """gateway -> gateways (``chat.typing.<room>``), already throttled by the sender's gateway."""

    room: str
    user_id: str
    is_typing: bool


def presence_key(room: str, user_id: str, gateway: str) -> str:
    return f"{validate_room_id(room)}.{validate_user_id(user_id)}.{validate_user_id(gateway)}"


def parse_presence_key(key: str) -> tuple[str, str, str] | None:
    """(room, user, gateway), or None for a key that is not a presence entry."""
    parts = key.split(".")
    if len(parts) != 3:
        return None
    try:
        return validate_room_id(parts[0]), validate_user_id(parts[1]), validate_user_id(parts[2])
    except InvalidIdError:
        return None


def merge_meta(parts: Iterable[tuple[int, dict[str, Any]]]) -> dict[str, Any]:
    """Metadata of several tabs or gateways as one: applied by ``meta_at``, the latest key wins."""
    merged: dict[str, Any] = {}
    for _, meta in sorted(parts, key=lambda part: part[0]):
        merged.update(meta)
    return merged
