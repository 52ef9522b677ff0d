"""Keeping a room's live messages in ``seq`` order without gaps. Pure: fed sequence numbers.

Live delivery is core NATS: a message can arrive twice, late (several chat instances publish
through different servers), or not at all (a reconnect). Each room remembers the last ``seq``
it delivered; a message right after it goes out, an older one is dropped, and a jump asks the
caller to fetch the missing ones from the log first.
"""

from dataclasses import dataclass

__all__ = ["Deliver", "Drop", "FillGap", "RoomOrder", "Verdict"]


@dataclass(frozen=True)
class Deliver:
    pass


@dataclass(frozen=True)
class Drop:
    pass


@dataclass(frozen=True)
class FillGap:
    """Fetch ``first``..``last`` (inclusive) from the log, deliver them, then this message."""

    first: int
    last: int


Verdict = Deliver | Drop | FillGap


class RoomOrder:
    def __init__(self, last: int) -> None:
        self.last = last
        """The newest ``seq`` delivered to the room's members (0: none yet)."""

    def offer(self, seq: int) -> Verdict:
        if seq <= self.last:
            return Drop()
        if seq == self.last + 1:
            return Deliver()
        return FillGap(self.last + 1, seq - 1)

    def delivered(self, seq: int) -> None:
        self.last = max(self.last, seq)
