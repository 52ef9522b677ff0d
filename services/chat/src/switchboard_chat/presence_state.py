"""Presence of every room, aggregated from the gateways' entries. Pure: fed bucket changes.

Each gateway writes one entry per (room, user) it holds connections for. Here they become one
user per room, however many tabs and gateways: the earliest ``connected_at``, metadata merged in
the order it changed. A room's revision is the bucket revision of the last change that altered
what its members see, so every chat instance, applying the same changes in the same order,
gives the same snapshot the same revision.
"""

import heapq
from dataclasses import dataclass

from switchboard_contracts.presence import (
    PresenceEntry,
    PresenceSnapshot,
    PresenceUser,
    merge_meta,
    parse_presence_key,
)

__all__ = ["PresenceState"]


@dataclass(frozen=True)
class _Held:
    room: str
    user_id: str
    gateway: str
    revision: int


class PresenceState:
    def __init__(self, max_listed: int) -> None:
        self._max_listed = max_listed
        self._held: dict[str, _Held] = {}
        self._rooms: dict[str, dict[str, dict[str, PresenceEntry]]] = {}
        self._by_gateway: dict[str, set[str]] = {}
        self._room_revision: dict[str, int] = {}
        self.revision = 0
        """The newest bucket revision applied."""

    def put(self, key: str, entry: PresenceEntry, revision: int) -> str | None:
        """Apply a written entry; the room whose view changed, if any."""
        self.revision = max(self.revision, revision)
        parsed = parse_presence_key(key)
        if parsed is None or parsed != (entry.room, entry.user_id, entry.gateway):
            return None
        room, user_id, gateway = parsed
        before = self._user(room, user_id)
        self._remove(key)
        self._held[key] = _Held(room, user_id, gateway, revision)
        self._rooms.setdefault(room, {}).setdefault(user_id, {})[gateway] = entry
        self._by_gateway.setdefault(gateway, set()).add(key)
        return self._changed(room, before, self._user(room, user_id), revision)

    def delete(self, key: str, revision: int) -> str | None:
        """Apply a deleted (or expired) entry; the room whose view changed, if any."""
        self.revision = max(self.revision, revision)
        held = self._held.get(key)
        if held is None:
            return None
        before = self._user(held.room, held.user_id)
        self._remove(key)
        return self._changed(held.room, before, self._user(held.room, held.user_id), revision)

    def keys_of(self, gateway: str) -> list[tuple[str, int]]:
        """(key, revision) of every entry a gateway wrote."""
        return [(key, self._held[key].revision) for key in self._by_gateway.get(gateway, ())]

    def keys(self) -> set[str]:
        """Every entry held."""
        return set(self._held)

    def gateways(self) -> set[str]:
        return set(self._by_gateway)

    def snapshot(self, room: str) -> PresenceSnapshot:
        users = self._rooms.get(room, {})
        merged = (self._merge(entries) for entries in users.values())
        listed = heapq.nsmallest(
            self._max_listed, merged, key=lambda user: (user.connected_at, user.user_id)
        )
        return PresenceSnapshot(
            room=room,
            revision=self._room_revision.get(room, 0),
            count=len(users),
            users=listed,
            truncated=len(users) > len(listed),
        )

    def _remove(self, key: str) -> None:
        held = self._held.pop(key, None)
        if held is None:
            return
        users = self._rooms[held.room]
        gateways = users[held.user_id]
        del gateways[held.gateway]
        if not gateways:
            del users[held.user_id]
        if not users:
            del self._rooms[held.room]
        keys = self._by_gateway[held.gateway]
        keys.discard(key)
        if not keys:
            del self._by_gateway[held.gateway]

    def _changed(
        self, room: str, before: PresenceUser | None, after: PresenceUser | None, revision: int
    ) -> str | None:
        if before == after:
            return None
        self._room_revision[room] = revision
        return room

    def forget_empty(self, room: str) -> None:
        """Drop the revision of a room nobody is in any more, once its last snapshot went out."""
        if room not in self._rooms:
            self._room_revision.pop(room, None)

    def _user(self, room: str, user_id: str) -> PresenceUser | None:
        entries = self._rooms.get(room, {}).get(user_id)
        return None if not entries else self._merge(entries)

    @staticmethod
    def _merge(entries: dict[str, PresenceEntry]) -> PresenceUser:
        first = next(iter(entries.values()))
        return PresenceUser(
            user_id=first.user_id,
            connected_at=min(entry.connected_at for entry in entries.values()),
            meta=merge_meta((entry.meta_at, entry.meta) for entry in entries.values()),
        )
