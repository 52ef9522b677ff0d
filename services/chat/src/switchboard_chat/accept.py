"""Accepting a client's message: validate, sanitise, give it an id, order it into its room."""

import time

from switchboard_contracts import (
    BusError,
    ChatMessage,
    ChatSendReply,
    ChatSendRequest,
    ErrorCode,
    InvalidIdError,
    validate_room_id,
)

from switchboard_chat.content import message_id, sanitise
from switchboard_chat.metrics import MESSAGES_ACCEPTED, MESSAGES_REJECTED
from switchboard_chat.sequencer import RoomSequencer

__all__ = ["MessageAcceptor"]


class MessageAcceptor:
    def __init__(self, sequencer: RoomSequencer) -> None:
        self._sequencer = sequencer

    async def accept(self, request: ChatSendRequest) -> ChatSendReply:
        reply = await self._accept(request)
        if reply.error is not None:
            MESSAGES_REJECTED.labels(reply.error.code.value).inc()
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
            id=message_id(request.user_id, request.client_msg_id, room=request.room),
            room=request.room,
            seq=0,
            sender_id=request.user_id,
            sender_name=request.sender_name,
            client_msg_id=request.client_msg_id,
            content=content,
            timestamp=int(time.time() * 1000),
        )
        return ChatSendReply(message=await self._sequencer.publish(draft))
