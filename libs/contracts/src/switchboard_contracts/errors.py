"""Errors that cross the bus in replies: a stable code and a message a user can act on."""

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

__all__ = ["BusError", "ErrorCode"]


class ErrorCode(StrEnum):
    INVALID_FRAME = "invalid_frame"
    INVALID_CONTENT = "invalid_content"
    CONTENT_TOO_LONG = "content_too_long"
    INVALID_ROOM = "invalid_room"
    INVALID_INPUT = "invalid_input"
    FORBIDDEN = "forbidden"
    CONFLICT = "conflict"
    UNKNOWN_TYPE = "unknown_type"
    INVALID_USER = "invalid_user"
    NOT_FOUND = "not_found"
    UNAVAILABLE = "unavailable"
    INTERNAL = "internal"


class BusError(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    code: ErrorCode
    message: str
