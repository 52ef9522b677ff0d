"""The names on the wire: frame types both ways and the codes of ``error`` frames
(docs/protocol.md §2)."""

from enum import StrEnum

__all__ = ["ClientFrameType", "ErrorCode", "ServerFrameType"]


class ClientFrameType(StrEnum):
    """What a client sends."""

    CHAT = "chat"
    EDIT = "edit"
    DELETE = "delete"
    REACT = "react"
    UNREACT = "unreact"
    TYPING = "typing"
    PRESENCE = "presence"
    JOIN = "join"
    LEAVE = "leave"
    HISTORY = "history"
    VERSIONS = "versions"
    READ = "read"
    PING = "ping"
    AUTH = "auth"


class ServerFrameType(StrEnum):
    """What the gateway sends over a WebSocket."""

    NOTIFICATION = "notification"
    PRESENCE = "presence"
    CHAT = "chat"
    EDIT = "edit"
    DELETE = "delete"
    REACT = "react"
    UNREACT = "unreact"
    TYPING = "typing"
    ACK = "ack"
    HISTORY = "history"
    VERSIONS = "versions"
    READ = "read"
    JOINED = "joined"
    REPLAY = "replay"
    ERROR = "error"
    PONG = "pong"
    AUTH = "auth"
    UNREAD = "unread"
    METRICS_UPDATE = "metrics-update"
    ALERT = "alert"
    LOG_ENTRY = "log-entry"


class ErrorCode(StrEnum):
    """The ``code`` of an ``error`` frame."""

    INVALID_JSON = "invalid_json"
    INVALID_FRAME = "invalid_frame"
    UNKNOWN_TYPE = "unknown_type"
    INVALID_ROOM = "invalid_room"
    INVALID_CONTENT = "invalid_content"
    CONTENT_TOO_LONG = "content_too_long"
    NOT_JOINED = "not_joined"
    ALREADY_JOINED = "already_joined"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    UNSUPPORTED = "unsupported"
    RATE_LIMITED = "rate_limited"
    UNAUTHORIZED = "unauthorized"
    UNAVAILABLE = "unavailable"
    INTERNAL = "internal"
