"""Read marks crossing the bus, coalesced per user and room. Pure: the caller passes the time.

The marking gateway publishes a user's first mark in a room at once and then at most one per
``interval``: marks within the interval are held, the latest (greatest ``seq``) winning, and
published when it ends (``due``). So a client that marks on every message it shows costs the
bus one event per second per room, and the last mark is never lost.
"""

from dataclasses import dataclass

from switchboard_contracts.reads import ReadState

__all__ = ["ReadCoalescer"]


@dataclass
class _Slot:
    sent_at: float
    held: ReadState | None = None


class ReadCoalescer:
    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._slots: dict[tuple[str, str], _Slot] = {}

    def offer(self, state: ReadState, now: float) -> ReadState | None:
        """A stored mark: the state to publish now, or None when it is held for ``due``."""
        key = (state.room, state.user_id)
        slot = self._slots.get(key)
        if slot is None or now - slot.sent_at >= self._interval:
            self._slots[key] = _Slot(now)
            return state
        if slot.held is None or state.seq >= slot.held.seq:
            slot.held = state
        return None

    def due(self, now: float) -> list[ReadState]:
        """Held marks whose interval ended, to publish now; forgets quiet slots."""
        ready: list[ReadState] = []
        for key, slot in list(self._slots.items()):
            if now - slot.sent_at < self._interval:
                continue
            if slot.held is None:
                del self._slots[key]
            else:
                ready.append(slot.held)
                slot.held, slot.sent_at = None, now
        return ready

    def __len__(self) -> int:
        """Slots remembered: (room, user) pairs marked within the last interval or held."""
        return len(self._slots)
