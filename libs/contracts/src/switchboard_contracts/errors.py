"""Errors that cross the bus in replies: a stable code and a message a user can act on.

What this library raises, as one tree (each a ``ValueError``: the input was wrong):

    ValueError
    ├── InvalidIdError     an id that cannot be a subject token (``switchboard_protocol.ids``,
    │                      re-exported here): the room, user or team at fault in the message
    ├── InputError         text that breaks the input rule (``input_rules``): ``field``, ``problem``
    └── pydantic.ValidationError
                           a bus message that does not decode (``BusMessage.decode``), the input
                           rule included; consumers answer ``invalid_frame`` or dead-letter it

``BusError`` below is no exception: it is what a reply carries instead of a result.
"""

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
