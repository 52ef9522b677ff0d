"""What a resuming client needs. Pure: decided from its ``since`` and the room's position."""

from dataclasses import dataclass

__all__ = ["NothingMissed", "Replay", "ReplayPlan", "Unrecoverable", "plan_replay"]


@dataclass(frozen=True)
class NothingMissed:
    pass


@dataclass(frozen=True)
class Replay:
    """Send ``first``..``last`` (inclusive), in order, before anything live."""

    first: int
    last: int


@dataclass(frozen=True)
class Unrecoverable:
    """The gap cannot be filled; the client must reload history."""

    reason: str


ReplayPlan = NothingMissed | Replay | Unrecoverable


def plan_replay(since: int, upto: int, max_messages: int) -> ReplayPlan:
    """``since``: the last ``seq`` the client saw; ``upto``: the last ``seq`` the room delivered."""
    if since > upto:
        return Unrecoverable(f"seq {since} is newer than the room's last message ({upto})")
    if since == upto:
        return NothingMissed()
    if upto - since > max_messages:
        return Unrecoverable(
            f"{upto - since} messages were missed; at most {max_messages} are replayed"
        )
    return Replay(since + 1, upto)
