"""This gateway's share of presence. Pure: connections in, one entry per (room, user) out.

A user with several tabs on this gateway is one entry: the earliest connection time, and the
tabs' metadata merged in the order it changed. Chat merges the entries of all gateways the
same way.
"""

from dataclasses import dataclass, field
from typing import Any

from switchboard_contracts.input_rules import dump_json
from switchboard_contracts.presence import PresenceEntry, merge_meta

__all__ = ["MAX_META_BYTES", "LocalPresence", "MetaTooLargeError"]

MAX_META_BYTES = 1024


class MetaTooLargeError(ValueError):
    """A connection's metadata would exceed the limit; nothing was changed."""


@dataclass
class _Connection:
    connected_at: int
    meta: dict[str, Any] = field(default_factory=dict)
    meta_at: int = 0


class LocalPresence:
    def __init__(self, gateway: str) -> None:
        self.gateway = gateway
        self._rooms: dict[tuple[str, str], dict[str, _Connection]] = {}

    def add(self, room: str, user_id: str, connection: str, now_ms: int) -> None:
        self._rooms.setdefault((room, user_id), {})[connection] = _Connection(now_ms)

    def remove(self, room: str, user_id: str, connection: str) -> None:
        connections = self._rooms.get((room, user_id))
        if connections is None:
            return
        connections.pop(connection, None)
        if not connections:
            del self._rooms[(room, user_id)]

    def update_meta(
        self, room: str, user_id: str, connection: str, patch: dict[str, Any], now_ms: int
    ) -> None:
        """Merge ``patch`` into the connection's metadata; a key set to null is removed."""
        held = self._rooms.get((room, user_id), {}).get(connection)
        if held is None:
            raise KeyError(f"{connection} is not in room {room}")
        meta = {**held.meta, **patch}
        meta = {key: value for key, value in meta.items() if value is not None}
        size = len(dump_json(meta).encode())
        if size > MAX_META_BYTES:
            raise MetaTooLargeError(
                f"presence metadata must be at most {MAX_META_BYTES} bytes of JSON (got {size})"
            )
        held.meta, held.meta_at = meta, now_ms

    def entry(self, room: str, user_id: str) -> PresenceEntry | None:
        connections = self._rooms.get((room, user_id))
        if not connections:
            return None
        return PresenceEntry(
            room=room,
            user_id=user_id,
            gateway=self.gateway,
            connected_at=min(c.connected_at for c in connections.values()),
            meta=merge_meta((c.meta_at, c.meta) for c in connections.values()),
            meta_at=max(c.meta_at for c in connections.values()),
        )

    def keys(self) -> list[tuple[str, str]]:
        """Every (room, user) this gateway holds connections for."""
        return list(self._rooms)
