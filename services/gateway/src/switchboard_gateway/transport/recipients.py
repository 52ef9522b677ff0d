"""The live outboxes of a room's members, to which each of its messages goes.

A room keeps one ``Recipients`` while its membership stays the same (``chat.room_hub``), so a
message costs the room no step per member: direct outboxes (``direct_outbox.DirectOutbox``)
get it through their writer's ``fan_out`` in one call, any others (``outbox.Outbox``, the
ASGI path) by ``offer`` each.
"""

from collections.abc import Iterable

from switchboard_gateway.transport.direct_outbox import DirectOutbox, FrameWriter
from switchboard_gateway.transport.outbox import Outgoing
from switchboard_gateway.transport.wire import SharedFrame

__all__ = ["Recipients"]


class Recipients:
    __slots__ = ("_direct", "_others", "_writer")

    def __init__(self, outboxes: Iterable[Outgoing]) -> None:
        direct: list[DirectOutbox] = []
        others: list[Outgoing] = []
        writer: FrameWriter | None = None
        for outbox in outboxes:
            if isinstance(outbox, DirectOutbox) and (writer is None or writer is outbox.writer):
                writer = outbox.writer
                direct.append(outbox)
            else:  # served otherwise, or (in tests) by another gateway's writer
                others.append(outbox)
        self._writer = writer
        self._direct = tuple(direct)
        self._others = tuple(others)

    def offer(self, text: SharedFrame) -> None:
        """``text`` to each."""
        if self._writer is not None:
            self._writer.fan_out(text, self._direct)
        for outbox in self._others:
            outbox.offer(text)
