"""Switchboard's client-protocol vocabulary (docs/protocol.md): what the gateway, the Python
client, the test helpers and (held to it by a test) the browser client all say the same way.
No dependencies, no I/O.

Errors: one, ``InvalidIdError`` (a ``ValueError``), for an id that breaks the id rule."""

from switchboard_protocol.close_codes import CloseCode, Reconnect
from switchboard_protocol.frame_types import ClientFrameType, ErrorCode, ServerFrameType
from switchboard_protocol.ids import (
    ID_PATTERN,
    InvalidIdError,
    validate_room_id,
    validate_team_id,
    validate_user_id,
)
from switchboard_protocol.reconnect_hint import format_hint, parse_hint
from switchboard_protocol.times import iso_time, now_ms

__all__ = [
    "ID_PATTERN",
    "ClientFrameType",
    "CloseCode",
    "ErrorCode",
    "InvalidIdError",
    "Reconnect",
    "ServerFrameType",
    "format_hint",
    "iso_time",
    "now_ms",
    "parse_hint",
    "validate_room_id",
    "validate_team_id",
    "validate_user_id",
]
