"""Typing indicators. Pure: the caller passes the time.

The sender's gateway (``TypingSource``) throttles each user's indicator per room and says when
it stops; every receiving gateway (``TypingBoard``) forwards changes to its members and clears
an indicator nobody refreshed, so a client or gateway that vanishes leaves no one "typing".
Clients repeat ``isTyping: true`` while the user types.
"""

from dataclasses import dataclass, field

__all__ = ["TypingBoard", "TypingSource"]


@dataclass
class _UserTyping:
    connections: dict[str, float] = field(default_factory=dict)  # connection -> last "true"
    sent: bool = False
    sent_at: float = 0.0


class TypingSource:
    """Which typing events a gateway publishes for its own connections."""

    def __init__(self, throttle: float, timeout: float) -> None:
        self._throttle = throttle
        self._timeout = timeout
        self._users: dict[tuple[str, str], _UserTyping] = {}

    def update(
        self, room: str, user_id: str, connection: str, is_typing: bool, now: float
    ) -> bool | None:
        """A connection says whether its user types; the value to publish, or None."""
        state = self._users.setdefault((room, user_id), _UserTyping())
        if is_typing:
            state.connections[connection] = now
        else:
            state.connections.pop(connection, None)
        return self._decide(room, user_id, state, now)

    def stop(self, room: str, user_id: str, connection: str, now: float) -> bool | None:
        """The connection left the room or closed."""
        state = self._users.get((room, user_id))
        if state is None:
            return None
        state.connections.pop(connection, None)
        return self._decide(room, user_id, state, now)

    def _decide(self, room: str, user_id: str, state: _UserTyping, now: float) -> bool | None:
        typing = any(now - at < self._timeout for at in state.connections.values())
        decision: bool | None = None
        if typing and (not state.sent or now - state.sent_at >= self._throttle):
            decision = True
        elif not typing and state.sent:
            decision = False
        if decision is not None:
            state.sent, state.sent_at = decision, now
        if not typing and not state.connections:
            del self._users[(room, user_id)]
        return decision


class TypingBoard:
    """Who types in the rooms a gateway has members in, as that gateway's members see it."""

    def __init__(self, timeout: float) -> None:
        self._timeout = timeout
        self._expires: dict[str, dict[str, float]] = {}  # room -> user -> expiry

    def apply(self, room: str, user_id: str, is_typing: bool, now: float) -> bool:
        """An event from the bus; True when members should be told."""
        typing = self._expires.setdefault(room, {})
        was = user_id in typing
        if is_typing:
            typing[user_id] = now + self._timeout
        else:
            typing.pop(user_id, None)
        if not typing:
            del self._expires[room]
        return is_typing != was

    def typing_in(self, room: str) -> list[str]:
        return sorted(self._expires.get(room, {}))

    def expire(self, now: float) -> list[tuple[str, str]]:
        """(room, user) whose indicator nobody refreshed in time; they are cleared."""
        expired = []
        for room, typing in list(self._expires.items()):
            for user_id, until in list(typing.items()):
                if until <= now:
                    expired.append((room, user_id))
                    del typing[user_id]
            if not typing:
                del self._expires[room]
        return expired

    def forget(self, room: str) -> None:
        self._expires.pop(room, None)
