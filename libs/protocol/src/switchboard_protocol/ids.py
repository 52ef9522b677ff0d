"""Ids that clients name (rooms, users, teams) become NATS subject tokens: letters, digits, '-'
and '_', 1-64 characters, so no dots, spaces or wildcards."""

import re

__all__ = [
    "ID_PATTERN",
    "InvalidIdError",
    "validate_room_id",
    "validate_team_id",
    "validate_user_id",
]

ID_PATTERN = re.compile(r"[A-Za-z0-9_\-]{1,64}")


class InvalidIdError(ValueError):
    """An id cannot be used: it names what is wrong with it."""


def _validate(kind: str, value: str) -> str:
    if not ID_PATTERN.fullmatch(value):
        raise InvalidIdError(
            f"{kind} must be 1-64 characters of letters, digits, '-' or '_' (got {value[:80]!r})"
        )
    return value


def validate_room_id(room_id: str) -> str:
    return _validate("room id", room_id)


def validate_user_id(user_id: str) -> str:
    return _validate("user id", user_id)


def validate_team_id(team_id: str) -> str:
    return _validate("team", team_id)
