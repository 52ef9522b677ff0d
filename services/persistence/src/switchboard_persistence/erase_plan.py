"""Which of a user's events to delete from the CHAT stream. Pure.

A room's newest event in the stream is never deleted: chat orders the room's next message after
the subject's last message in the stream (``SubjectSequencer``), so deleting it would let the
next message take its seq again. An erasure publishes a deletion of each of the user's messages
first, so the newest event of such a room is that deletion, not the user's; an event of the
user still newest (an edit of a message deleted earlier, or one sent during the erasure) is kept
and counted.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from switchboard_contracts import ChatMessage

__all__ = ["StreamEvent", "stream_deletions"]


@dataclass(frozen=True)
class StreamEvent:
    """One event of the CHAT stream: where it is, and what it is."""

    stream_seq: int
    message: ChatMessage


def stream_deletions(
    events: Iterable[StreamEvent], newest: Mapping[str, int]
) -> tuple[list[int], int]:
    """The stream sequences of ``events`` (the user's) to delete, ascending, and how many are
    kept; ``newest``: each room's newest stream sequence now (a room missing: none left)."""
    deleted: list[int] = []
    kept = 0
    for event in events:
        last = newest.get(event.message.room)
        if last is None or event.stream_seq >= last:
            kept += last is not None and event.stream_seq == last
            continue
        deleted.append(event.stream_seq)
    return sorted(deleted), kept
