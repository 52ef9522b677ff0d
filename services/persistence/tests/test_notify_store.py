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


async def test_inbox_pages_go_newest_first_with_unread_count(store: NotifyStore) -> None:
    user = new_user()
    await store.insert([entry(user, c) for c in (3, 10, 11, 40, 52)])  # positions, not 1, 2, 3
    first = await store.inbox(user, unread_only=False, before=None, limit=2)
    assert [i.notification.cursor for i in first.items] == [52, 40]
    assert first.has_more
    assert first.unread_count == 5
    rest = await store.inbox(user, unread_only=False, before=40, limit=10)
    assert [i.notification.cursor for i in rest.items] == [11, 10, 3]
    assert not rest.has_more


async def test_reading_one_then_all_counts_exactly(store: NotifyStore) -> None:
    user = new_user()
    await store.insert([entry(user, c) for c in (2, 7, 9, 14, 30)])
    one = await store.mark_read(user, f"{user}-14")
    assert one is not None
    assert one.unread_count == 4
    unread = await store.inbox(user, unread_only=True, before=None, limit=10)
    assert [i.notification.cursor for i in unread.items] == [30, 9, 7, 2]
    every = await store.inbox(user, unread_only=False, before=None, limit=10)
    assert [i.read for i in every.items] == [False, True, False, False, False]
    everything = await store.mark_all_read(user, upto=12)
    assert everything.unread_count == 1  # 30 is left; 14 was read on its own
    assert everything.version > one.version


async def test_reading_an_unknown_notification_finds_nothing(store: NotifyStore) -> None:
    assert await store.mark_read(new_user(), "nope") is None


async def test_replay_reports_the_read_state_of_its_window(store: NotifyStore) -> None:
    user = new_user()
    await store.insert([entry(user, c) for c in (10, 20, 30, 40, 50, 60, 70)])
    await store.mark_all_read(user, upto=20)
    await store.mark_read(user, f"{user}-50")
    await store.mark_read(user, f"{user}-70")
    page = await store.replay(user, after=30, limit=3)
    assert [n.cursor for n in page.notifications] == [40, 50, 60]
    assert page.read_upto == 20
    assert page.read_cursors == [50]  # the window ends at the last entry given
    states = await store.replay(user, after=30, limit=3, upto=70, states_only=True)
    assert (states.notifications, states.read_cursors) == ([], [50, 70])


async def test_replay_stops_before_what_the_stream_still_holds(store: NotifyStore) -> None:
    user = new_user()
    await store.insert([entry(user, c) for c in (5, 8, 13, 21)])
    page = await store.replay(user, after=5, limit=10, before=21)
    assert [n.cursor for n in page.notifications] == [8, 13]


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


async def test_entries_of_before_positions_and_after_count_as_one_inbox(
    store: NotifyStore,
) -> None:
    """Entries stored before cursors became positions keep their per-user cursors (1, 2, 3),
    below any later position; read state and counts span both."""
    user = new_user()
    await store.insert([entry(user, c) for c in (1, 2, 3, 9001, 9005)])
    await store.mark_all_read(user, upto=2)
    page = await store.inbox(user, unread_only=True, before=None, limit=10)
    assert [item.notification.cursor for item in page.items] == [9005, 9001, 3]
    assert page.unread_count == 3
