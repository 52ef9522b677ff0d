"""Reactions on chat messages: the emoji rule and a message's current reactions. Pure.

A reaction is a room event (``ChatMessage`` of kind ``react`` or ``unreact``, its ``content``
the emoji; docs/protocol.md §2, "Reactions"). One place for the rule, which the gateway applies
at the edge and chat again on the bus, and for the fold from events to current reactions, which
the gateway applies to a history page read from the stream as PostgreSQL does to its rows.
"""

import unicodedata
from collections.abc import Iterable

from pydantic import Field

from switchboard_contracts.message import BusMessage

__all__ = [
    "MAX_EMOJI_BYTES",
    "MAX_MESSAGE_EMOJI",
    "REACTION_USERS_LISTED",
    "Reaction",
    "emoji_problem",
    "fold_reactions",
]

MAX_EMOJI_BYTES = 32
MAX_MESSAGE_EMOJI = 20
"""Distinct emoji a message may carry; a ``react`` with one more is refused."""
REACTION_USERS_LISTED = 10
"""Users listed per emoji in a message's ``reactions`` (the count stays exact)."""

_EMOJI_JOINERS = frozenset("\u200d\ufe0e\ufe0f")
"""Format characters emoji sequences are made of: the zero-width joiner, the selectors."""


class Reaction(BusMessage):
    """One emoji on a message: how many users hold it, and the first of them in the order they
    reacted (at most ``REACTION_USERS_LISTED``)."""

    emoji: str
    count: int
    users: list[str] = Field(default_factory=list)


def emoji_problem(emoji: str) -> str | None:
    """Why ``emoji`` is not a reaction (None: it is one): 1 to 32 bytes of UTF-8, no
    whitespace, no control or format character except the joiners emoji sequences use."""
    if not emoji:
        return "emoji must not be empty"
    try:
        size = len(emoji.encode("utf-8"))
    except UnicodeEncodeError:
        return "emoji must be valid Unicode"
    if size > MAX_EMOJI_BYTES:
        return f"emoji must be at most {MAX_EMOJI_BYTES} bytes of UTF-8 (got {size})"
    for char in emoji:
        if char.isspace():
            return "emoji must not contain whitespace"
        if unicodedata.category(char).startswith("C") and char not in _EMOJI_JOINERS:
            return f"emoji must not contain the control or format character U+{ord(char):04X}"
    return None


def fold_reactions(events: Iterable[tuple[int, str, str, bool]]) -> list[Reaction]:
    """A message's current reactions from its reaction events ``(seq, emoji, user, added)``
    (any order, repeats allowed): each (emoji, user) as its latest event by seq left it. Emoji
    in the order first reacted with by a current holder; users in the order they reacted."""
    latest: dict[tuple[str, str], tuple[int, bool]] = {}
    for seq, emoji, user, added in events:
        held = latest.get((emoji, user))
        if held is None or seq > held[0]:
            latest[(emoji, user)] = (seq, added)
    holders: dict[str, list[tuple[int, str]]] = {}
    for (emoji, user), (seq, added) in latest.items():
        if added:
            holders.setdefault(emoji, []).append((seq, user))
    ordered = sorted(holders.items(), key=lambda item: min(item[1]))
    return [
        Reaction(
            emoji=emoji,
            count=len(users),
            users=[user for _, user in sorted(users)[:REACTION_USERS_LISTED]],
        )
        for emoji, users in ordered
    ]
