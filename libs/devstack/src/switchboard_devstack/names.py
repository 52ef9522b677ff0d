"""Names no other test uses: rooms, users, any id a test makes up."""

import secrets

__all__ = ["new_id", "new_room", "new_user"]


def new_id(prefix: str) -> str:
    """``<prefix>-`` and eight random hex digits."""
    return f"{prefix}-{secrets.token_hex(4)}"


def new_room() -> str:
    """A room no other test uses."""
    return new_id("room")


def new_user(prefix: str = "u") -> str:
    """A user no other test uses (so their inbox starts empty)."""
    return new_id(prefix)
