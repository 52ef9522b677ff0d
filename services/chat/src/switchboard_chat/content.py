"""What a chat message may contain. Pure: no I/O, unit-tested on its own."""

import re
import uuid

from switchboard_contracts import MAX_CONTENT_LENGTH, BusError, ErrorCode
from switchboard_contracts.ids import uuid5_text

__all__ = ["message_id", "sanitise"]

# C0 and C1 control characters except tab and newline; also DEL.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_ID_NAMESPACE = uuid.UUID("6f1d5c8e-3f44-4f57-9d3c-5b7a0c2e9a11")


def sanitise(content: str) -> str | BusError:
    """The plain text the user typed: control characters removed, trimmed, 1-5000 characters.

    Escaping is the renderer's job, so ``<3`` stays ``<3``.
    """
    text = _CONTROL.sub("", content.replace("\r\n", "\n")).strip()
    if not text:
        return BusError(code=ErrorCode.INVALID_CONTENT, message="content must not be empty")
    if len(text) > MAX_CONTENT_LENGTH:
        return BusError(
            code=ErrorCode.CONTENT_TOO_LONG,
            message=f"content must be at most {MAX_CONTENT_LENGTH} characters (got {len(text)})",
        )
    return text


def message_id(room: str, user_id: str, client_msg_id: str | None) -> str:
    """Stable for a retried ``(room, user, clientMsgId)``, random otherwise.

    The room is part of it: a client that reuses a ``clientMsgId`` in another room sends
    another message, not a retry.
    """
    if client_msg_id is None:
        return str(uuid.uuid4())
    return uuid5_text(_ID_NAMESPACE, f"{room}\x00{user_id}\x00{client_msg_id}")
