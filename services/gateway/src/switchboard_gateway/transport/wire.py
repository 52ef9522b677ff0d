"""WebSocket frames as they go on the wire, built once per message (RFC 6455 §5.2).

A server's frames are never masked, and without permessage-deflate (the gateway turns it off)
a text frame is the same bytes for every receiver: a two-to-ten-byte header and the UTF-8
payload. ``SharedFrame`` is a frame many sockets send (a room's chat, typing and presence
fan-outs); its wire bytes are built on first use and then reused by every member.
"""

import struct
import time

__all__ = ["SharedFrame", "TimedFrame", "text_frame", "wire_of"]

_FIN_TEXT = 0x81
_LEN_16 = 126
_LEN_64 = 127
_HEADER_7 = struct.Struct("!BB")
_HEADER_16 = struct.Struct("!BBH")
_HEADER_64 = struct.Struct("!BBQ")


def text_frame(payload: bytes) -> bytes:
    """One unmasked, final text frame carrying ``payload`` (already UTF-8)."""
    length = len(payload)
    if length < _LEN_16:
        return _HEADER_7.pack(_FIN_TEXT, length) + payload
    if length < 1 << 16:
        return _HEADER_16.pack(_FIN_TEXT, _LEN_16, length) + payload
    return _HEADER_64.pack(_FIN_TEXT, _LEN_64, length) + payload


class SharedFrame(str):
    """An encoded frame sent to many sockets: its wire bytes are built once, on first use."""

    __slots__ = ("_wire",)

    def wire(self) -> bytes:
        try:
            return self._wire
        except AttributeError:
            self._wire: bytes = text_frame(self.encode())
            return self._wire


def wire_of(text: str) -> bytes:
    """The wire bytes of a frame: shared ones are built once, others each time."""
    if isinstance(text, SharedFrame):
        return text.wire()
    return text_frame(text.encode())


class TimedFrame(SharedFrame):
    """An encoded frame that remembers when chat accepted its message (Unix seconds).

    ``chat.room_hub`` makes one per live message. On the ASGI path
    ``connection_metrics.ConnectionMetrics`` observes
    ``DELIVERY_LATENCY`` each time a socket writes it; on the direct path (``direct_outbox``)
    its latency is taken once, when the loop turn that fanned it out is flushed, and counted
    once per socket it went to (``observe_many``).
    Replayed or historical frames are plain ``str``.
    """

    __slots__ = ("accepted_at",)
    accepted_at: float

    def __new__(cls, text: str, accepted_at: float) -> "TimedFrame":
        frame = super().__new__(cls, text)
        frame.accepted_at = accepted_at
        return frame

    def latency(self, now: float | None = None) -> float:
        return max(0.0, (time.time() if now is None else now) - self.accepted_at)
