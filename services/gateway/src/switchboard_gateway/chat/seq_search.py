"""Finding a room's message by ``seq`` in the stream. Pure: the caller performs the probes.

The CHAT stream interleaves every room; a room's messages are in ``seq`` order, but their
stream sequences are not known. A probe asks for the room's first message at or after a stream
sequence; bisecting between known positions finds any ``seq`` in a logarithmic number of probes.
"""

from dataclasses import dataclass

__all__ = ["Position", "SeqSearch"]


@dataclass(frozen=True)
class Position:
    """Where a room's message is: its room ``seq`` and its stream sequence."""

    seq: int
    stream_seq: int


class SeqSearch:
    """Locate ``target`` given positions ``low`` and ``high`` with low.seq <= target <= high.seq."""

    def __init__(self, target: int, low: Position, high: Position) -> None:
        if not low.seq <= target <= high.seq:
            raise ValueError(f"seq {target} is not between {low.seq} and {high.seq}")
        self.target = target
        self._low = low
        self._upper = high.stream_seq  # the target's stream sequence is at most this
        self.found: Position | None = None
        if low.seq == target:
            self.found = low
        elif high.seq == target:
            self.found = high

    @property
    def low(self) -> Position:
        """The last position known to be before the target: once ``exhausted``, the room's
        messages after it have seqs above the target (the target was deleted: erased)."""
        return self._low

    @property
    def exhausted(self) -> bool:
        """True when the target cannot be in the stream (it is missing)."""
        return self.found is None and self._low.stream_seq + 1 > self._upper

    def next_probe(self) -> int | None:
        """The stream sequence to probe next, or None when found or exhausted."""
        if self.found is not None or self.exhausted:
            return None
        return (self._low.stream_seq + 1 + self._upper) // 2

    def observe(self, probe: int, position: Position | None) -> None:
        """The room's first message at or after stream sequence ``probe`` (None: there is none)."""
        if position is None or position.seq > self.target:
            self._upper = probe - 1
        elif position.seq == self.target:
            self.found = position
        else:
            self._low = position
