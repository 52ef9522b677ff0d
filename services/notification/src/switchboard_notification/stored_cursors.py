"""What persistence has stored of users' inboxes: the newest cursor, for users the stream no
longer holds (or never held) anything of. The sequencer's ``stored_last`` and
``stored_last_many``."""

from switchboard_contracts import BusError, endpoints
from switchboard_contracts.notify import LastCursorRequest, LastCursorsRequest
from switchboard_runtime import Bus
from switchboard_runtime.messaging.sequencer import SequencerError

__all__ = ["StoredCursors"]


def _answered(error: BusError | None) -> None:
    """``SequencerError`` when there was no reply or it is an error: the entry then cannot be
    ordered, and the caller retries."""
    if error is not None:
        raise SequencerError(error.message)


class StoredCursors:
    def __init__(self, bus: Bus, timeout: float) -> None:
        self._bus = bus
        self._timeout = timeout

    async def last(self, user_id: str) -> int:
        """The user's newest stored cursor (0: none)."""
        reply = await self._bus.ask(
            endpoints.PERSISTENCE_NOTIFY_LAST_CURSOR,
            LastCursorRequest(user_id=user_id),
            timeout=self._timeout,
        )
        _answered(reply.error)
        return reply.cursor

    async def last_of_many(self, user_ids: list[str]) -> dict[str, int]:
        """Each user's newest stored cursor; users with none left out."""
        reply = await self._bus.ask(
            endpoints.PERSISTENCE_NOTIFY_LAST_CURSORS,
            LastCursorsRequest(user_ids=user_ids),
            timeout=self._timeout,
        )
        _answered(reply.error)
        return reply.cursors
