"""PostgreSQL's side of a notification inbox, stubbed empty: for a ``NotificationSender`` or a
broadcast worker tested without persistence, no user has anything stored yet."""

__all__ = ["none_stored", "nothing_stored"]


async def nothing_stored(user_id: str) -> int:
    """The newest stored cursor of ``user_id``'s inbox: none (0)."""
    del user_id
    return 0


async def none_stored(user_ids: list[str]) -> dict[str, int]:
    """The newest stored cursors of ``user_ids``: none of them has one."""
    del user_ids
    return {}
