"""Accepting a client's message: validate, sanitise, give it an id, order it into its room.

Exactly once: a message with a ``clientMsgId`` gets an id derived from (room, user,
clientMsgId). A retry within JetStream's duplicate window is a JetStream duplicate (the
sequencer returns the original); a retry after the window is found in PostgreSQL by that id
before anything is published. The one case left: a retry after the window of a message that
persistence has not written yet (persistence more than the window behind), or while persistence
does not answer, is stored again. Chat prefers accepting messages to refusing them when
PostgreSQL is down.
"""

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from switchboard_contracts import (
    BusError,
    ChatMessage,
    ChatSendReply,
    ChatSendRequest,
    ErrorCode,
    InvalidIdError,
    validate_room_id,
)
from switchboard_runtime.telemetry.metrics import child

from switchboard_chat.content import message_id, sanitise
from switchboard_chat.metrics import MESSAGES_ACCEPTED, MESSAGES_REJECTED
from switchboard_chat.store_client import StoreUnavailableError

__all__ = ["MessageAcceptor", "Sequencer"]

log = logging.getLogger(__name__)

StoredMessage = Callable[[str], Awaitable[ChatMessage | None]]


class Sequencer(Protocol):
    """Orders a message into its room (``RoomSequencer``)."""

    async def publish(self, draft: ChatMessage) -> ChatMessage: ...


class MessageAcceptor:
    def __init__(self, sequencer: Sequencer, stored: StoredMessage) -> None:
        self._sequencer = sequencer
        self._stored = stored

    async def accept(self, request: ChatSendRequest) -> ChatSendReply:
        reply = await self._accept(request)
        if reply.error is not None:
            child(MESSAGES_REJECTED, reply.error.code.value).inc()
        else:
            MESSAGES_ACCEPTED.inc()
        return reply

    async def _accept(self, request: ChatSendRequest) -> ChatSendReply:
        try:
            validate_room_id(request.room)
        except InvalidIdError as err:
            return ChatSendReply(error=BusError(code=ErrorCode.INVALID_ROOM, message=str(err)))
        content = sanitise(request.content)
        if isinstance(content, BusError):
            return ChatSendReply(error=content)
        draft = ChatMessage(
            id=message_id(request.room, request.user_id, request.client_msg_id),
            room=request.room,
            seq=0,
            sender_id=request.user_id,
            sender_name=request.sender_name,
            client_msg_id=request.client_msg_id,
            content=content,
            timestamp=int(time.time() * 1000),
        )
        if request.client_msg_id is not None:
            earlier = await self._earlier(draft.id)
            if earlier is not None:
                return ChatSendReply(message=earlier)
        return ChatSendReply(message=await self._sequencer.publish(draft))

    async def _earlier(self, draft_id: str) -> ChatMessage | None:
        try:
            return await self._stored(draft_id)
        except StoreUnavailableError:
            log.warning("could not look a retried message up in PostgreSQL; relying on JetStream")
            return None
