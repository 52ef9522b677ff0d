"""Sends not yet acknowledged, in the order they were made. They survive reconnects and are sent
again with the same ``clientMsgId`` until acked: the server stores and delivers each one once."""

import secrets
from dataclasses import dataclass

__all__ = ["Outbox", "PendingSend"]


@dataclass(frozen=True)
class PendingSend:
    room: str
    client_msg_id: str
    content: str
    kind: str = "chat"
    """The frame's type: ``chat``, ``edit``, ``delete``, ``react`` or ``unreact`` (whose
    ``content`` is the emoji)."""
    message_id: str | None = None
    """The message an ``edit``, a ``delete`` or a reaction changes."""


class Outbox:
    def __init__(self) -> None:
        self._pending: dict[tuple[str, str], PendingSend] = {}

    def add(
        self,
        room: str,
        content: str,
        client_msg_id: str | None = None,
        *,
        kind: str = "chat",
        message_id: str | None = None,
    ) -> PendingSend:
        send = PendingSend(room, client_msg_id or secrets.token_hex(8), content, kind, message_id)
        self._pending.setdefault((room, send.client_msg_id), send)
        return self._pending[(room, send.client_msg_id)]

    def acked(self, room: str, client_msg_id: str) -> PendingSend | None:
        """Forget an acknowledged send; the send, or None when it was not (or no longer) ours."""
        return self._pending.pop((room, client_msg_id), None)

    def pending(self) -> list[PendingSend]:
        return list(self._pending.values())

    def __len__(self) -> int:
        return len(self._pending)
