"""Where each room's reading stands: the last ``seq`` shown, for ``since`` on resume and to drop a
message seen twice (a replay overlapping what arrived live)."""

__all__ = ["RoomCursors"]


class RoomCursors:
    def __init__(self, initial: dict[str, int] | None = None) -> None:
        self._last: dict[str, int] = dict(initial or {})

    def accept(self, room: str, seq: int) -> bool:
        """Whether a message is new (then it becomes the room's position); False: shown already."""
        if seq <= self._last.get(room, 0):
            return False
        self._last[room] = seq
        return True

    def start(self, room: str, seq: int) -> None:
        """The room was joined at ``seq``: the position when nothing was shown there yet (what
        came before the join is not this reader's to show; what comes after is)."""
        self._last.setdefault(room, seq)

    def since(self, room: str) -> int | None:
        """``since`` for a join: the last seq shown, or None when nothing was shown yet."""
        return self._last.get(room)

    def snapshot(self) -> dict[str, int]:
        return dict(self._last)
