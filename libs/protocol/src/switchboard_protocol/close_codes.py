"""WebSocket close codes the gateway sends, each with what a client should do after it
(docs/protocol.md §2, "Close codes"). The one place they are spelled: the gateway closes with
these, the Python client and the test helpers read them, and a test holds the browser client's
``CLOSE`` table to them."""

from enum import Enum, IntEnum

__all__ = ["CloseCode", "Reconnect"]


class Reconnect(Enum):
    """What a client does after a close."""

    STOP = "stop"
    """The session ended as asked: do not come back."""
    NEVER = "fix the client"
    """The client sent what will be refused again: reconnecting cannot help."""
    WITH_NEW_TOKEN = "get a fresh token, then reconnect"  # noqa: S105 (not a secret)
    """Without a way to get a token, this is final."""
    AFTER_HINT = "reconnect after the delay in the reason, to another gateway, resume"
    BACKOFF = "reconnect with backoff and jitter, resume"
    SLOW_BACKOFF = "back off for seconds, then reconnect"


class CloseCode(IntEnum):
    """A close code with its ``reconnect`` rule (``CloseCode.SERVICE_RESTART.reconnect``)."""

    reconnect: Reconnect

    def __new__(cls, code: int, reconnect: Reconnect) -> "CloseCode":
        member = int.__new__(cls, code)
        member._value_ = code
        member.reconnect = reconnect
        return member

    NORMAL = 1000, Reconnect.STOP
    INVALID_PAYLOAD = 1007, Reconnect.NEVER
    """A text frame that is not valid UTF-8."""
    POLICY_VIOLATION = 1008, Reconnect.WITH_NEW_TOKEN
    """The token expired and no ``auth`` frame renewed it."""
    MESSAGE_TOO_BIG = 1009, Reconnect.NEVER
    """A frame over the gateway's ``WS_MAX_FRAME_BYTES``."""
    INTERNAL_ERROR = 1011, Reconnect.BACKOFF
    SERVICE_RESTART = 1012, Reconnect.AFTER_HINT
    """The gateway is draining; the reason carries ``reconnect_hint``."""
    TRY_AGAIN_LATER = 1013, Reconnect.BACKOFF
    """Overload, a connection limit, or a client too slow to read its messages."""
    RATE_LIMITED = 4429, Reconnect.SLOW_BACKOFF
    """Rate limit exceeded repeatedly."""

    @property
    def final(self) -> bool:
        """True when a client that cannot change what it sends (or its token) must stop."""
        return self.reconnect in (Reconnect.NEVER, Reconnect.WITH_NEW_TOKEN)
