import secrets

import asyncpg
import pytest
from switchboard_contracts.notify import Notification, NotificationType
from switchboard_devstack.names import new_user
from switchboard_persistence.notify_store import NotifyStore

pytestmark = pytest.mark.component


@pytest.fixture
def store(pool: asyncpg.Pool) -> NotifyStore:
    return NotifyStore(pool)


def entry(user: str, cursor: int, team: str | None = None) -> Notification:
    return Notification(
        id=f"{user}-{cursor}",
        user_id=user,
        cursor=cursor,
        type=NotificationType.INFO,
        title=f"t{cursor}",
        message=f"m{cursor}",
        timestamp=cursor,
        team=team,
    )


async def test_inserting_an_entry_twice_stores_it_once(store: NotifyStore) -> None:
    user = new_user()
    await store.insert([entry(user, 1), entry(user, 2)])
    await store.insert([entry(user, 2), entry(user, 3)])
    page = await store.replay(user, after=0, limit=10)
    assert [n.cursor for n in page.notifications] == [1, 2, 3]
    assert await store.last_cursor(user) == 3


async def test_last_cursors_of_many_users_leave_out_those_with_none(store: NotifyStore) -> None:
    some, other, nobody = new_user(), new_user(), new_user()
    await store.insert([entry(some, 1), entry(some, 2), entry(other, 1)])
    assert await store.last_cursors([some, other, nobody]) == {some: 2, other: 1}
    assert await store.last_cursors([]) == {}


async def test_inbox_pages_go_newest_first_with_unread_count(store: NotifyStore) -> None:
    user = new_user()
    await store.insert([entry(user, c) for c in range(1, 6)])
    first = await store.inbox(user, unread_only=False, before=None, limit=2, head=5)
    assert [i.notification.cursor for i in first.items] == [5, 4]
    assert first.has_more
    assert first.unread_count == 5
    rest = await store.inbox(user, unread_only=False, before=4, limit=10, head=5)
    assert [i.notification.cursor for i in rest.items] == [3, 2, 1]
    assert not rest.has_more


async def test_reading_one_then_all_counts_exactly(store: NotifyStore) -> None:
    user = new_user()
    await store.insert([entry(user, c) for c in range(1, 6)])
    one = await store.mark_read(user, f"{user}-4", head=5)
    assert one is not None
    assert one.unread_count == 4
    unread = await store.inbox(user, unread_only=True, before=None, limit=10, head=5)
    assert [i.notification.cursor for i in unread.items] == [5, 3, 2, 1]
    every = await store.inbox(user, unread_only=False, before=None, limit=10, head=5)
    assert [i.read for i in every.items] == [False, True, False, False, False]
    everything = await store.mark_all_read(user, upto=3, head=5)
    assert everything.unread_count == 1  # 5 is left; 4 was read on its own
    assert everything.version > one.version


async def test_the_unread_count_includes_entries_not_written_yet(store: NotifyStore) -> None:
    user = new_user()
    await store.insert([entry(user, 1)])
    state = await store.mark_read(user, f"{user}-1", head=3)  # 2 and 3 are still in the stream
    assert state is not None
    assert state.unread_count == 2


async def test_reading_an_unknown_notification_finds_nothing(store: NotifyStore) -> None:
    assert await store.mark_read(new_user(), "nope", head=0) is None


async def test_replay_reports_the_read_state_of_its_window(store: NotifyStore) -> None:
    user = new_user()
    await store.insert([entry(user, c) for c in range(1, 8)])
    await store.mark_all_read(user, upto=2, head=7)
    await store.mark_read(user, f"{user}-5", head=7)
    await store.mark_read(user, f"{user}-7", head=7)
    page = await store.replay(user, after=3, limit=3)
    assert [n.cursor for n in page.notifications] == [4, 5, 6]
    assert page.read_upto == 2
    assert page.read_cursors == [5]


async def test_recipients_and_registered_users_are_known_with_their_teams(
    store: NotifyStore,
) -> None:
    team = f"t-{secrets.token_hex(4)}"
    alice, bob, carol = sorted(new_user() for _ in range(3))
    await store.register(alice, [team, "other"])
    await store.register(bob, [team])
    await store.register(bob, None)  # a connection without teams keeps them
    await store.register(carol, [team])
    await store.register(carol, ["other"])  # the latest connection's teams replace them
    assert await store.users(team, after=None, limit=10) == [alice, bob]
    assert await store.users(team, after=alice, limit=10) == [bob]
    recipient = new_user()
    await store.insert([entry(recipient, 1)])
    assert recipient in await store.users(None, after=None, limit=1000)


async def test_an_entry_stored_after_the_head_was_read_is_counted_when_listed(
    store: NotifyStore,
) -> None:
    """The caller read the head (0: nothing yet) just before a broadcast's entry was stored; the
    page lists that entry, so its unread count must count it too."""
    user = new_user()
    await store.insert([entry(user, 1)])
    page = await store.inbox(user, unread_only=False, before=None, limit=10, head=0)
    assert [item.notification.cursor for item in page.items] == [1]
    assert page.unread_count == 1
