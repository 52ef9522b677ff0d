"""What persistence has stored of users' inboxes: the newest cursor, for users the stream no
longer holds (or never held) anything of. The sequencer's ``stored_last`` and
``stored_last_many``."""

from typing import Protocol, TypeVar

from nats.aio.client import Client
from switchboard_contracts import BusError, subjects
from switchboard_contracts.notify import (
    LastCursorReply,
    LastCursorRequest,
    LastCursorsReply,
    LastCursorsRequest,
)
from switchboard_runtime.ask import ask
from switchboard_runtime.sequencer import SequencerError

__all__ = ["StoredCursors"]


class _Reply(Protocol):
    @property
    def error(self) -> BusError | None: ...


R = TypeVar("R", bound=_Reply)


def _answered(reply: R | BusError) -> R:
    """The reply, or ``SequencerError`` when there was none or it is an error: the entry then
    cannot be ordered, and the caller retries."""
    if isinstance(reply, BusError):
        raise SequencerError(reply.message)
    if reply.error is not None:
        raise SequencerError(reply.error.message)
    return reply


class StoredCursors:
    def __init__(self, nc: Client, timeout: float) -> None:
        self._nc = nc
        self._timeout = timeout

    async def last(self, user_id: str) -> int:
        """The user's newest stored cursor (0: none)."""
        request = LastCursorRequest(user_id=user_id)
        reply = await ask(
            self._nc, subjects.NOTIFY_LAST_CURSOR, request, LastCursorReply, self._timeout
        )
        return _answered(reply).cursor

    async def last_of_many(self, user_ids: list[str]) -> dict[str, int]:
        """Each user's newest stored cursor; users with none left out."""
        request = LastCursorsRequest(user_ids=user_ids)
        reply = await ask(
            self._nc, subjects.NOTIFY_LAST_CURSORS, request, LastCursorsReply, self._timeout
        )
        return _answered(reply).cursors
