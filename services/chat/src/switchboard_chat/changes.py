"""Edits, deletions and reactions of messages: who may make them and the event each becomes.
Pure.

Each is a new event of the room (``ChatMessage`` with a ``kind``), ordered into the room's
stream with its own ``seq`` like a message (docs/protocol.md §2, "Edit and delete",
"Reactions"). Its target is looked up (in PostgreSQL) before; this module decides on what was
found.
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
from switchboard_contracts.chat import REACTION_KINDS
from switchboard_contracts.reactions import MAX_MESSAGE_EMOJI, emoji_problem

from switchboard_chat.content import sanitise

__all__ = ["change_content", "change_event", "change_refusal"]


def change_content(request: ChatSendRequest) -> str | BusError:
    """What an edit, a deletion or a reaction will carry (an edit's sanitised content, a
    reaction's emoji; a deletion's is empty), or why the request is refused before its target
    is looked for: the room, the content (the rules of a new message, or the emoji rule), the
    target missing."""
    try:
        validate_room_id(request.room)
    except InvalidIdError as err:
        return BusError(code=ErrorCode.INVALID_ROOM, message=str(err))
    if request.target_id is None:
        return BusError(code=ErrorCode.INVALID_FRAME, message="messageId is required")
    if request.kind in REACTION_KINDS:
        problem = emoji_problem(request.content)
        if problem is not None:
            return BusError(code=ErrorCode.INVALID_CONTENT, message=problem)
        return request.content
    return sanitise(request.content) if request.kind is EventKind.EDIT else ""


def change_refusal(request: ChatSendRequest, target: ChatMessage | None) -> BusError | None:
    """Why ``request`` may not change ``target`` (None: not found), or None when it may: a
    message of the same room, not deleted; an edit or a deletion by its author or a moderator;
    a reaction by anyone who may read the room (the gateway checked), within the emoji cap."""
    if target is None or target.room != request.room or target.kind is not None or target.deleted:
        return BusError(
            code=ErrorCode.NOT_FOUND,
            message=f"no message {request.target_id} in room {request.room}",
        )
    if request.kind in REACTION_KINDS:
        return _cap_refusal(request, target)
    if target.sender_id != request.user_id and not request.moderator:
        verb = "edit" if request.kind is EventKind.EDIT else "delete"
        return BusError(
            code=ErrorCode.FORBIDDEN,
            message=f"only its author or a moderator may {verb} message {target.id}",
        )
    return None


def _cap_refusal(request: ChatSendRequest, target: ChatMessage) -> BusError | None:
    """A ``react`` of an emoji new to a message that has ``MAX_MESSAGE_EMOJI`` already."""
    held = {r.emoji for r in target.reactions or ()}
    new = request.kind is EventKind.REACT and request.content not in held
    if new and len(held) >= MAX_MESSAGE_EMOJI:
        return BusError(
            code=ErrorCode.INVALID_CONTENT,
            message=f"message {target.id} has {MAX_MESSAGE_EMOJI} different emoji already",
        )
    return None


def change_event(
    request: ChatSendRequest, target: ChatMessage, event_id: str, content: str, now_ms: int
) -> ChatMessage:
    """The event to store (``seq`` not yet given): ``content`` is an edit's sanitised new
    content or a reaction's emoji; a deletion carries none."""
    return ChatMessage(
        id=event_id,
        room=request.room,
        seq=0,
        sender_id=request.user_id,
        client_msg_id=request.client_msg_id,
        content="" if request.kind is EventKind.DELETE else content,
        timestamp=now_ms,
        kind=request.kind,
        target_id=target.id,
        target_seq=target.seq,
    )
