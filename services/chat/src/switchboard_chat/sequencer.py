"""Gap-free per-room ``seq`` on top of JetStream, safe with any number of chat instances.

Each publish says which stream sequence it expects to be the room's last
(``Nats-Expected-Last-Subject-Sequence``); a concurrent writer makes that fail, and we re-read
the room's last message and try again. ``Nats-Msg-Id`` makes a retried message a duplicate that
JetStream answers with the original's stream sequence, from which we read its id and ``seq``.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.errors import APIError, NotFoundError
from switchboard_contracts import ChatMessage, streams, subjects
from switchboard_runtime import stream_publish

from switchboard_chat.metrics import DUPLICATES, SEQUENCE_CONFLICTS

__all__ = ["RoomSequencer", "SequencerError"]

log = logging.getLogger(__name__)

WRONG_LAST_SEQUENCE = 10071
MAX_ATTEMPTS = 20


class SequencerError(RuntimeError):
    """The message could not be ordered into its room; the client may retry with its clientMsgId."""


@dataclass(frozen=True)
class _RoomHead:
    room_seq: int
    stream_seq: int


class RoomSequencer:
    def __init__(
        self, js: JetStreamContext, stored_last_seq: Callable[[str], Awaitable[int]]
    ) -> None:
        self._js = js
        self._stored_last_seq = stored_last_seq
        self._heads: dict[str, _RoomHead] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def publish(self, draft: ChatMessage) -> ChatMessage:
        """Store ``draft`` (its ``seq`` is ignored) and return it as stored, with its ``seq``."""
        lock = self._locks.setdefault(draft.room, asyncio.Lock())
        async with lock:
            for _ in range(MAX_ATTEMPTS):
                head = self._heads.get(draft.room) or await self._read_head(draft.room)
                message = draft.model_copy(update={"seq": head.room_seq + 1})
                try:
                    ack = await stream_publish(
                        self._js,
                        subjects.chat_room(draft.room),
                        message.encode(),
                        stream=streams.CHAT.name,
                        headers={
                            "Nats-Msg-Id": draft.id,
                            "Nats-Expected-Last-Subject-Sequence": str(head.stream_seq),
                        },
                    )
                except APIError as err:
                    if err.err_code != WRONG_LAST_SEQUENCE:
                        raise
                    SEQUENCE_CONFLICTS.inc()
                    self._heads.pop(draft.room, None)
                    continue
                if ack.duplicate:
                    DUPLICATES.inc()
                    return await self._stored(ack.seq)
                self._heads[draft.room] = _RoomHead(message.seq, ack.seq)
                return message
        raise SequencerError(f"room {draft.room} is too contended to order a message")

    def forget(self, room: str) -> None:
        self._heads.pop(room, None)

    async def _read_head(self, room: str) -> _RoomHead:
        try:
            last = await self._js.get_last_msg(streams.CHAT.name, subjects.chat_room(room))
        except NotFoundError:
            # Nothing of this room in the stream (new room, or aged out): persistence knows.
            return _RoomHead(await self._stored_last_seq(room), 0)
        if last.data is None or last.seq is None:
            raise SequencerError(f"room {room}: the stream returned an empty last message")
        return _RoomHead(ChatMessage.decode(last.data).seq, last.seq)

    async def _stored(self, stream_seq: int) -> ChatMessage:
        raw = await self._js.get_msg(streams.CHAT.name, stream_seq)
        if raw.data is None:
            raise SequencerError(f"stream message {stream_seq} has no data")
        return ChatMessage.decode(raw.data)
