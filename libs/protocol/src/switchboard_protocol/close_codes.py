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
    """A close code; ``reconnect`` is what a client does after it (the table below)."""

    NORMAL = 1000
    INVALID_PAYLOAD = 1007
    """A text frame that is not valid UTF-8."""
    POLICY_VIOLATION = 1008
    """The token expired and no ``auth`` frame renewed it."""
    MESSAGE_TOO_BIG = 1009
    """A frame over the gateway's ``WS_MAX_FRAME_BYTES``."""
    INTERNAL_ERROR = 1011
    SERVICE_RESTART = 1012
    """The gateway is draining; the reason carries the reconnect hint."""
    TRY_AGAIN_LATER = 1013
    """Overload, a connection limit, or a client too slow to read its messages."""
    RATE_LIMITED = 4429
    """Rate limit exceeded repeatedly."""

    @property
    def reconnect(self) -> Reconnect:
        return _RULES[self]

    @property
    def final(self) -> bool:
        """True when a client that cannot change what it sends (or its token) must stop."""
        return self.reconnect in (Reconnect.NEVER, Reconnect.WITH_NEW_TOKEN)


_RULES = {
    CloseCode.NORMAL: Reconnect.STOP,
    CloseCode.INVALID_PAYLOAD: Reconnect.NEVER,
    CloseCode.POLICY_VIOLATION: Reconnect.WITH_NEW_TOKEN,
    CloseCode.MESSAGE_TOO_BIG: Reconnect.NEVER,
    CloseCode.INTERNAL_ERROR: Reconnect.BACKOFF,
    CloseCode.SERVICE_RESTART: Reconnect.AFTER_HINT,
    CloseCode.TRY_AGAIN_LATER: Reconnect.BACKOFF,
    CloseCode.RATE_LIMITED: Reconnect.SLOW_BACKOFF,
}
