"""The client protocol's frames (docs/protocol.md §2). Pure: parsing and encoding, no I/O.

Every frame is one JSON object ``{"type", "payload", "timestamp", ...}``. Parsing never raises:
it returns a typed frame or a ``FrameError`` that names the problem. An error's ``ref`` is what
it refers to: a chat's ``clientMsgId``, the ``room`` of a join/leave/history, else the type.
"""

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from switchboard_contracts import ChatMessage, EventKind, InvalidIdError, validate_room_id
from switchboard_contracts.chat import (
    MAX_CLIENT_MSG_ID_LENGTH,
    MAX_HISTORY_LIMIT,
    REACTION_KINDS,
    VersionsReply,
)
from switchboard_contracts.ids import ID_PATTERN
from switchboard_contracts.input_rules import (
    INT64_MAX,
    InputError,
    check_text,
    dump_json,
    dump_plain_json,
    load_json,
)
from switchboard_contracts.presence import PresenceSnapshot
from switchboard_contracts.reactions import emoji_problem
from switchboard_protocol.times import iso_time, now_ms
from switchboard_runtime.telemetry.metrics import child

from switchboard_gateway.metrics import ERRORS, FRAME_TYPES, FRAMES_RECEIVED, bounded

__all__ = [
    "CLIENT_FRAME_TYPES",
    "MAX_PRESENCE_META_BYTES",
    "RESERVED_PRESENCE_KEYS",
    "AuthFrame",
    "ChatFrame",
    "ClientFrame",
    "DeleteFrame",
    "EditFrame",
    "FrameError",
    "HistoryFrame",
    "JoinFrame",
    "LeaveFrame",
    "PingFrame",
    "PresenceFrame",
    "ReactFrame",
    "ReadFrame",
    "TypingFrame",
    "VersionsFrame",
    "ack_frame",
    "auth_frame",
    "chat_frame",
    "chat_frame_object",
    "connected_frame",
    "error_frame",
    "history_frame",
    "invalid_format_frame",
    "joined_frame",
    "parse_client_frame",
    "pong_frame",
    "presence_frame",
    "presence_payload",
    "read_frame",
    "replay_frame",
    "typing_frame",
    "versions_frame",
    "versions_payload",
]

MAX_SENDER_NAME_LENGTH = 100
MAX_MESSAGE_ID_LENGTH = 64
MAX_ATTEMPT = 1_000_000
MAX_TOKEN_LENGTH = 8192
MAX_PRESENCE_META_BYTES = 1024
DEFAULT_HISTORY_LIMIT = 50
RESERVED_PRESENCE_KEYS = frozenset({"userId", "connectedAt"})

DASHBOARD_ROOM_PREFIX = "dashboard:"


@dataclass(frozen=True)
class FrameError:
    code: str
    message: str
    ref: str | None = None
    unparsable: bool = False


@dataclass(frozen=True)
class ChatFrame:
    content: str
    sender_name: str | None
    client_msg_id: str | None
    room: str | None = None
    attempt: int | None = None
    """How many times the client has sent this ``clientMsgId``, this time included."""


@dataclass(frozen=True)
class EditFrame:
    """A new content for the message ``message_id`` (an ``id`` of a ``chat`` of the room)."""

    message_id: str
    content: str
    client_msg_id: str | None
    room: str | None = None
    attempt: int | None = None


@dataclass(frozen=True)
class DeleteFrame:
    message_id: str
    client_msg_id: str | None
    room: str | None = None
    attempt: int | None = None


@dataclass(frozen=True)
class ReactFrame:
    """A ``react`` (``add``) or an ``unreact`` of ``emoji`` (within the emoji rule) on the
    message ``message_id``."""

    message_id: str
    emoji: str
    add: bool
    client_msg_id: str | None
    room: str | None = None
    attempt: int | None = None


@dataclass(frozen=True)
class TypingFrame:
    is_typing: bool
    room: str | None = None


@dataclass(frozen=True)
class PresenceFrame:
    meta: dict[str, Any]
    room: str | None = None


@dataclass(frozen=True)
class JoinFrame:
    room: str
    since: int | None = None


@dataclass(frozen=True)
class LeaveFrame:
    room: str


@dataclass(frozen=True)
class HistoryFrame:
    room: str | None
    before: int | None
    limit: int


@dataclass(frozen=True)
class ReadFrame:
    """The user read ``room`` up to ``seq`` (docs/protocol.md §2, "Read receipts")."""

    seq: int
    room: str | None = None


@dataclass(frozen=True)
class VersionsFrame:
    """Every version of the message ``message_id`` of the room."""

    room: str | None
    message_id: str


@dataclass(frozen=True)
class PingFrame:
    fields: dict[str, Any]


@dataclass(frozen=True)
class AuthFrame:
    """A fresh token for the connection, sent before the current one expires."""

    token: str


ClientFrame = (
    ChatFrame
    | EditFrame
    | DeleteFrame
    | ReactFrame
    | TypingFrame
    | PresenceFrame
    | JoinFrame
    | LeaveFrame
    | HistoryFrame
    | ReadFrame
    | VersionsFrame
    | PingFrame
    | AuthFrame
)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _optional_str(payload: dict[str, Any], key: str, max_length: int) -> str | FrameError | None:
    value = payload.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= max_length:
        return FrameError(
            "invalid_frame", f"payload.{key} must be a string of 1-{max_length} characters"
        )
    return value


def _dashboard_room(value: str) -> str | FrameError:
    if ID_PATTERN.fullmatch(value.removeprefix(DASHBOARD_ROOM_PREFIX)):
        return value
    return FrameError(
        "invalid_room", "payload.room: a dashboard room is dashboard:<team id>", ref=value[:64]
    )


def _room(
    payload: dict[str, Any], ref: str | None, *, required: bool, dashboards: bool = False
) -> str | FrameError | None:
    """The frame's room; with ``dashboards``, ``dashboard:<team>`` rooms too (join/leave)."""
    value = payload.get("room")
    if value is None:
        if required:
            return FrameError("invalid_frame", "payload.room is required", ref=ref)
        return None
    if not isinstance(value, str):
        return FrameError("invalid_room", "payload.room must be a string", ref=ref)
    if dashboards and value.startswith(DASHBOARD_ROOM_PREFIX):
        return _dashboard_room(value)
    try:
        return validate_room_id(value)
    except InvalidIdError as err:
        return FrameError("invalid_room", f"payload.room: {err}", ref=value[:64])


def _attempt(payload: dict[str, Any], ref: str | None) -> int | FrameError | None:
    attempt = payload.get("attempt")
    if attempt is not None and (not _is_int(attempt) or not 1 <= attempt <= MAX_ATTEMPT):
        return FrameError(
            "invalid_frame", f"payload.attempt must be an integer from 1 to {MAX_ATTEMPT}", ref=ref
        )
    return attempt


def _target(
    payload: dict[str, Any], ref: str | None, *, edit: bool
) -> tuple[str, str] | FrameError:
    """An ``edit``'s or a ``delete``'s ``messageId`` and (an edit's) ``content``."""
    message_id = payload.get("messageId")
    if not isinstance(message_id, str) or not 1 <= len(message_id) <= MAX_MESSAGE_ID_LENGTH:
        return FrameError(
            "invalid_frame",
            f"payload.messageId is required: a string of 1-{MAX_MESSAGE_ID_LENGTH} characters",
            ref=ref,
        )
    content = payload.get("content", "") if edit else ""
    if not isinstance(content, str) or (edit and "content" not in payload):
        return FrameError(
            "invalid_frame", "payload.content is required and must be a string", ref=ref
        )
    return message_id, content


def _parse_change(payload: dict[str, Any], *, edit: bool) -> EditFrame | DeleteFrame | FrameError:
    """An ``edit`` (``edit``) or a ``delete``: the fields of a ``chat`` and ``messageId``."""
    client_msg_id = _optional_str(payload, "clientMsgId", MAX_CLIENT_MSG_ID_LENGTH)
    if isinstance(client_msg_id, FrameError):
        return client_msg_id
    target = _target(payload, client_msg_id, edit=edit)
    if isinstance(target, FrameError):
        return target
    room = _room(payload, client_msg_id, required=False)
    if isinstance(room, FrameError):
        return FrameError(room.code, room.message, ref=client_msg_id)
    attempt = _attempt(payload, client_msg_id)
    if isinstance(attempt, FrameError):
        return attempt
    message_id, content = target
    if edit:
        return EditFrame(message_id, content, client_msg_id, room, attempt)
    return DeleteFrame(message_id, client_msg_id, room, attempt)


def _parse_reaction(payload: dict[str, Any], *, add: bool) -> ReactFrame | FrameError:
    """A ``react`` (``add``) or an ``unreact``: the fields of a ``delete`` and ``emoji``, which
    must follow the emoji rule (``invalid_content`` naming the problem)."""
    change = _parse_change(payload, edit=False)
    if isinstance(change, FrameError):
        return change
    emoji = payload.get("emoji")
    if not isinstance(emoji, str):
        return FrameError(
            "invalid_frame",
            "payload.emoji is required and must be a string",
            ref=change.client_msg_id,
        )
    problem = emoji_problem(emoji)
    if problem is not None:
        return FrameError("invalid_content", f"payload.{problem}", ref=change.client_msg_id)
    return ReactFrame(
        change.message_id, emoji, add, change.client_msg_id, change.room, change.attempt
    )


def _parse_chat(payload: dict[str, Any]) -> ChatFrame | FrameError:
    client_msg_id = _optional_str(payload, "clientMsgId", MAX_CLIENT_MSG_ID_LENGTH)
    if isinstance(client_msg_id, FrameError):
        return client_msg_id
    content = payload.get("content")
    if not isinstance(content, str):
        return FrameError(
            "invalid_frame", "payload.content is required and must be a string", ref=client_msg_id
        )
    sender_name = _optional_str(payload, "senderName", MAX_SENDER_NAME_LENGTH)
    if isinstance(sender_name, FrameError):
        return FrameError(sender_name.code, sender_name.message, ref=client_msg_id)
    room = _room(payload, client_msg_id, required=False)
    if isinstance(room, FrameError):
        return FrameError(room.code, room.message, ref=client_msg_id)
    attempt = _attempt(payload, client_msg_id)
    if isinstance(attempt, FrameError):
        return attempt
    return ChatFrame(content, sender_name, client_msg_id, room, attempt)


def _parse_typing(payload: dict[str, Any]) -> TypingFrame | FrameError:
    is_typing = payload.get("isTyping")
    if not isinstance(is_typing, bool):
        return FrameError(
            "invalid_frame", "payload.isTyping is required and must be true or false", ref="typing"
        )
    room = _room(payload, "typing", required=False)
    if isinstance(room, FrameError):
        return room
    return TypingFrame(is_typing, room)


def _parse_presence(payload: dict[str, Any]) -> PresenceFrame | FrameError:
    room = _room(payload, "presence", required=False)
    if isinstance(room, FrameError):
        return room
    meta = {key: value for key, value in payload.items() if key != "room"}
    reserved = sorted(RESERVED_PRESENCE_KEYS & meta.keys())
    if reserved:
        return FrameError(
            "invalid_frame", f"payload.{reserved[0]} is set by the server", ref="presence"
        )
    if len(dump_json(meta).encode()) > MAX_PRESENCE_META_BYTES:
        return FrameError(
            "invalid_frame",
            f"presence metadata must be at most {MAX_PRESENCE_META_BYTES} bytes of JSON",
            ref="presence",
        )
    return PresenceFrame(meta, room)


def _parse_join(payload: dict[str, Any]) -> JoinFrame | FrameError:
    room = _room(payload, "join", required=True, dashboards=True)
    if isinstance(room, FrameError):
        return room
    assert room is not None
    since = payload.get("since")
    if since is not None and (not _is_int(since) or not 0 <= since <= INT64_MAX):
        return FrameError(
            "invalid_frame", f"payload.since must be an integer from 0 to {INT64_MAX}", ref=room
        )
    return JoinFrame(room, since)


def _parse_leave(payload: dict[str, Any]) -> LeaveFrame | FrameError:
    room = _room(payload, "leave", required=True, dashboards=True)
    if isinstance(room, FrameError):
        return room
    assert room is not None
    return LeaveFrame(room)


def _parse_history(payload: dict[str, Any]) -> HistoryFrame | FrameError:
    room = _room(payload, "history", required=False)
    if isinstance(room, FrameError):
        return room
    ref = room or "history"
    before = payload.get("before")
    if before is not None and (not _is_int(before) or not 1 <= before <= INT64_MAX):
        return FrameError(
            "invalid_frame", f"payload.before must be an integer from 1 to {INT64_MAX}", ref=ref
        )
    limit = payload.get("limit", DEFAULT_HISTORY_LIMIT)
    if not _is_int(limit) or not 1 <= limit <= MAX_HISTORY_LIMIT:
        return FrameError(
            "invalid_frame",
            f"payload.limit must be an integer from 1 to {MAX_HISTORY_LIMIT}",
            ref=ref,
        )
    return HistoryFrame(room, before, limit)


def _parse_read(payload: dict[str, Any]) -> ReadFrame | FrameError:
    room = _room(payload, "read", required=False)
    if isinstance(room, FrameError):
        return room
    seq = payload.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq <= INT64_MAX:
        return FrameError(
            "invalid_frame",
            f"payload.seq is required: an integer from 0 to {INT64_MAX}",
            ref=room or "read",
        )
    return ReadFrame(seq, room)


def _parse_versions(payload: dict[str, Any]) -> VersionsFrame | FrameError:
    room = _room(payload, "versions", required=False)
    if isinstance(room, FrameError):
        return room
    target = _target(payload, room or "versions", edit=False)
    if isinstance(target, FrameError):
        return target
    return VersionsFrame(room, target[0])


def _parse_auth(payload: dict[str, Any]) -> AuthFrame | FrameError:
    token = payload.get("token")
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        return FrameError(
            "invalid_frame",
            f"payload.token must be a non-empty string of at most {MAX_TOKEN_LENGTH} characters",
            ref="auth",
        )
    return AuthFrame(token)


_PAYLOAD_PARSERS: dict[str, Callable[[dict[str, Any]], ClientFrame | FrameError]] = {
    "chat": _parse_chat,
    "edit": functools.partial(_parse_change, edit=True),
    "delete": functools.partial(_parse_change, edit=False),
    "react": functools.partial(_parse_reaction, add=True),
    "unreact": functools.partial(_parse_reaction, add=False),
    "typing": _parse_typing,
    "presence": _parse_presence,
    "join": _parse_join,
    "leave": _parse_leave,
    "history": _parse_history,
    "read": _parse_read,
    "versions": _parse_versions,
    "auth": _parse_auth,
}

CLIENT_FRAME_TYPES = frozenset({*_PAYLOAD_PARSERS, "ping"})


def _ref_of(frame: object) -> str | None:
    """What a refused frame was about, as far as that follows the input rule itself: a chat's
    ``clientMsgId``, the ``room`` of a join, leave or history, else the frame's type."""
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        return None
    kind: str = frame["type"][:40]
    payload = frame.get("payload")
    key = {
        "chat": "clientMsgId",
        "edit": "clientMsgId",
        "delete": "clientMsgId",
        "react": "clientMsgId",
        "unreact": "clientMsgId",
        "join": "room",
        "leave": "room",
        "history": "room",
        "read": "room",
        "versions": "room",
    }.get(kind)
    candidate = payload.get(key) if key is not None and isinstance(payload, dict) else None
    for ref in (candidate, kind):
        if isinstance(ref, str) and ref and len(ref) <= MAX_CLIENT_MSG_ID_LENGTH:
            try:
                return check_text(ref)
            except InputError:
                continue
    return None


def _refusal(err: InputError) -> FrameError:
    """A frame that breaks the input rule (docs/protocol.md, "Input rules")."""
    if err.document is None:  # not JSON at all, or nothing of it could be read
        code = (
            "invalid_json" if "JSON" in err.problem or "UTF-8" in err.problem else "invalid_frame"
        )
        return FrameError(code, f"the frame {err.problem}", unparsable=True)
    code = "invalid_room" if err.field == "payload.room" else "invalid_frame"
    return FrameError(code, str(err), ref=_ref_of(err.document))


def _load_object(text: str | bytes) -> dict[str, Any] | FrameError:
    try:
        frame = load_json(text)
    except InputError as err:
        return _refusal(err)
    if not isinstance(frame, dict):
        return FrameError("invalid_frame", "a frame must be a JSON object", unparsable=True)
    return frame


def parse_client_frame(text: str | bytes) -> ClientFrame | FrameError:
    frame = _load_object(text)
    kind = frame.get("type") if isinstance(frame, dict) else None
    label = bounded(kind, FRAME_TYPES) if isinstance(kind, str) else "invalid"
    child(FRAMES_RECEIVED, "websocket", label).inc()
    if isinstance(frame, FrameError):
        return frame
    if not isinstance(kind, str):
        return FrameError("invalid_frame", "type is required and must be a string")
    if kind == "ping":
        return PingFrame(fields={k: v for k, v in frame.items() if k != "type"})
    parse = _PAYLOAD_PARSERS.get(kind)
    if parse is None:
        return FrameError("unknown_type", f"unknown frame type {kind[:40]!r}", ref=kind[:40])
    payload = frame.get("payload", {})
    if not isinstance(payload, dict):
        return FrameError("invalid_frame", "payload must be a JSON object", ref=kind)
    return parse(payload)


def _dump(value: dict[str, Any]) -> str:
    # A frame's "type" first: connection_metrics.frame_type_of reads it from the text without
    # parsing it again.
    if "type" in value:
        value = {"type": value["type"], **value}
    return dump_json(value)


def _change_payload(event: ChatMessage) -> dict[str, Any]:
    """An ``edit``, ``delete``, ``react`` or ``unreact`` frame's payload: its target, and an
    edit's new content or a reaction's emoji."""
    payload: dict[str, Any] = {
        "messageId": event.target_id,
        "messageSeq": event.target_seq,
        "id": event.id,
        "seq": event.seq,
        "room": event.room,
        "senderId": event.sender_id,
        "timestamp": event.timestamp,
    }
    if event.kind is EventKind.EDIT:
        payload["content"] = event.content
    elif event.kind in REACTION_KINDS:
        payload["emoji"] = event.content
    if event.client_msg_id is not None:
        payload["clientMsgId"] = event.client_msg_id
    return payload


def chat_frame_object(message: ChatMessage) -> dict[str, Any]:
    """A ``chat`` frame (a message, in its current state when read back from PostgreSQL), or an
    ``edit`` or ``delete`` frame (an event of that kind)."""
    if message.kind is not None:
        payload = _change_payload(message)
    else:
        payload = {
            "content": message.content,
            "id": message.id,
            "seq": message.seq,
            "room": message.room,
            "senderId": message.sender_id,
            "timestamp": message.timestamp,
        }
        if message.sender_name is not None:
            payload["senderName"] = message.sender_name
        if message.client_msg_id is not None:
            payload["clientMsgId"] = message.client_msg_id
        if message.edit_count:
            payload["editCount"] = message.edit_count
            payload["editedAt"] = message.edited_at
        if message.deleted:
            payload["deleted"] = True
        if message.reactions:
            payload["reactions"] = [
                {"emoji": r.emoji, "count": r.count, "users": r.users} for r in message.reactions
            ]
    return {
        "type": "chat" if message.kind is None else message.kind.value,
        "payload": payload,
        "timestamp": message.timestamp,
        "senderId": message.sender_id,
        "room": message.room,
        "id": message.id,
        "seq": message.seq,
    }


def chat_frame(message: ChatMessage) -> str:
    return dump_plain_json(chat_frame_object(message))


def ack_frame(message: ChatMessage) -> str:
    payload = {
        "clientMsgId": message.client_msg_id,
        "id": message.id,
        "seq": message.seq,
        "room": message.room,
    }
    return dump_plain_json(
        {"type": "ack", "payload": payload, "timestamp": now_ms(), "room": message.room}
    )


def auth_frame(expires_at: float | None) -> str:
    """The answer to an accepted ``auth`` frame: when the connection's token now expires."""
    expires = None if expires_at is None else iso_time(int(expires_at * 1000))
    return _dump({"type": "auth", "payload": {"expiresAt": expires}, "timestamp": now_ms()})


def connected_frame(client_id: str) -> str:
    payload = {"message": "Connected successfully", "clientId": client_id}
    return _dump({"type": "notification", "payload": payload, "timestamp": now_ms()})


def error_frame(code: str, message: str, ref: str | None = None) -> str:
    ERRORS.labels(code[:40]).inc()
    payload = {"code": code, "message": message, "ref": ref}
    return _dump({"type": "error", "payload": payload, "timestamp": now_ms()})


def invalid_format_frame() -> str:
    """What the compatible form's clients expect for an unparsable frame."""
    return _dump(
        {
            "type": "notification",
            "payload": {"error": "Invalid message format"},
            "timestamp": now_ms(),
        }
    )


def pong_frame(fields: dict[str, Any]) -> str:
    return _dump({**fields, "type": "pong", "timestamp": fields.get("timestamp", now_ms())})


def presence_payload(snapshot: PresenceSnapshot) -> dict[str, Any]:
    online = [
        {**user.meta, "userId": user.user_id, "connectedAt": iso_time(user.connected_at)}
        for user in snapshot.users
    ]
    payload: dict[str, Any] = {"onlineUsers": online, "count": snapshot.count}
    if snapshot.truncated:
        payload["truncated"] = True
    return payload


def presence_frame(snapshot: PresenceSnapshot) -> str:
    return _dump(
        {
            "type": "presence",
            "payload": presence_payload(snapshot),
            "timestamp": now_ms(),
            "room": snapshot.room,
        }
    )


def typing_frame(room: str, user_id: str, is_typing: bool) -> str:
    return _dump(
        {
            "type": "typing",
            "payload": {"userId": user_id, "isTyping": is_typing},
            "timestamp": now_ms(),
            "senderId": user_id,
            "room": room,
        }
    )


def history_frame(room: str, messages: list[ChatMessage], has_more: bool) -> str:
    payload = {
        "room": room,
        "messages": [chat_frame_object(message) for message in messages],
        "hasMore": has_more,
    }
    return _dump({"type": "history", "payload": payload, "timestamp": now_ms(), "room": room})


def versions_payload(room: str, message_id: str, reply: VersionsReply) -> dict[str, Any]:
    """A message's versions, oldest first; ``deleted`` when the message is a tombstone."""
    return {
        "room": room,
        "messageId": message_id,
        "versions": [
            {"seq": v.seq, "content": v.content, "timestamp": v.timestamp} for v in reply.versions
        ],
        "deleted": reply.deleted,
    }


def versions_frame(room: str, message_id: str, reply: VersionsReply) -> str:
    """The answer to a ``versions`` frame."""
    payload = versions_payload(room, message_id, reply)
    return _dump({"type": "versions", "payload": payload, "timestamp": now_ms(), "room": room})


def read_frame(room: str, user_id: str, seq: int, unread: tuple[int, int] | None = None) -> str:
    """``user_id`` read ``room`` up to ``seq``; ``unread`` (count, upto) only in the user's own."""
    payload: dict[str, Any] = {"userId": user_id, "seq": seq}
    if unread is not None:
        payload["unreadCount"], payload["upto"] = unread
    return _dump({"type": "read", "payload": payload, "timestamp": now_ms(), "room": room})


def joined_frame(room: str, seq: int) -> str:
    """The member is registered in ``room``: every event after ``seq`` reaches it."""
    payload = {"room": room, "seq": seq}
    return _dump({"type": "joined", "payload": payload, "timestamp": now_ms(), "room": room})


def replay_frame(room: str, recovered: bool) -> str:
    payload = {"room": room, "recovered": recovered}
    return _dump({"type": "replay", "payload": payload, "timestamp": now_ms(), "room": room})
