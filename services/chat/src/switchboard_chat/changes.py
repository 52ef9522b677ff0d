"""Edits and deletions of messages: who may make them and the event each becomes. Pure.

An edit or a deletion is a new event of the room (``ChatMessage`` with a ``kind``), ordered
into the room's stream with its own ``seq`` like a message (docs/protocol.md §2, "Edit and
delete"). Its target is looked up (in PostgreSQL) before; this module decides on what was found.
"""

from switchboard_contracts import (
    BusError,
    ChatMessage,
    ChatSendRequest,
    ErrorCode,
    EventKind,
    InvalidIdError,
    validate_room_id,
)

from switchboard_chat.content import sanitise

__all__ = ["change_content", "change_event", "change_refusal"]


def change_content(request: ChatSendRequest) -> str | BusError:
    """What an edit or a deletion will carry (an edit's sanitised content; a deletion's is
    empty), or why the request is refused before its target is looked for: the room, the
    content (the rules of a new message), the target missing."""
    try:
        validate_room_id(request.room)
    except InvalidIdError as err:
        return BusError(code=ErrorCode.INVALID_ROOM, message=str(err))
    if request.target_id is None:
        return BusError(code=ErrorCode.INVALID_FRAME, message="messageId is required")
    return sanitise(request.content) if request.kind is EventKind.EDIT else ""


def change_refusal(request: ChatSendRequest, target: ChatMessage | None) -> BusError | None:
    """Why ``request`` (an edit or a deletion) may not change ``target`` (None: not found), or
    None when it may: a message of the same room, not deleted, by the user or a moderator."""
    if target is None or target.room != request.room or target.kind is not None or target.deleted:
        return BusError(
            code=ErrorCode.NOT_FOUND,
            message=f"no message {request.target_id} in room {request.room}",
        )
    if target.sender_id != request.user_id and not request.moderator:
        verb = "edit" if request.kind is EventKind.EDIT else "delete"
        return BusError(
            code=ErrorCode.FORBIDDEN,
            message=f"only its author or a moderator may {verb} message {target.id}",
        )
    return None


def change_event(
    request: ChatSendRequest, target: ChatMessage, event_id: str, content: str, now_ms: int
) -> ChatMessage:
    """The event to store (``seq`` not yet given): ``content`` is an edit's sanitised new
    content; a deletion carries none."""
    return ChatMessage(
        id=event_id,
        room=request.room,
        seq=0,
        sender_id=request.user_id,
        client_msg_id=request.client_msg_id,
        content=content if request.kind is EventKind.EDIT else "",
        timestamp=now_ms,
        kind=request.kind,
        target_id=target.id,
        target_seq=target.seq,
    )
