"""What a chat message may contain. Pure: no I/O, unit-tested on its own."""

import hashlib
import re
import uuid

from switchboard_contracts import MAX_CONTENT_LENGTH, BusError, ErrorCode

__all__ = ["message_id", "sanitise"]

# C0 and C1 control characters except tab and newline; also DEL.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_ID_NAMESPACE = uuid.UUID("6f1d5c8e-3f44-4f57-9d3c-5b7a0c2e9a11")
_NAMESPACE_BYTES = _ID_NAMESPACE.bytes


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
    return _uuid5(f"{room}\x00{user_id}\x00{client_msg_id}")


def _uuid5(name: str) -> str:
    """``str(uuid.uuid5(_ID_NAMESPACE, name))`` without building a ``UUID`` (its checks and
    formatting were ~5% of chat's CPU per message): the SHA-1 of namespace and name, its first
    16 bytes with the version (5) and variant (RFC 4122) bits set, as 8-4-4-4-12 hex digits."""
    digest = bytearray(
        hashlib.sha1(_NAMESPACE_BYTES + name.encode(), usedforsecurity=False).digest()[:16]
    )
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
