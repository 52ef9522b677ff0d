import asyncio
import secrets

import asyncpg
import pytest
from switchboard_contracts.notify import (
    ALL_AUDIENCE,
    Membership,
    Notification,
    NotificationType,
    audience_of,
)
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


# Positions far from any other test's (``position()``): every user who gets an entry becomes a
# member of `all` from just before it, and broadcasts to `all` stored by other tests on the same
# database must not fall inside.


async def test_inserting_an_entry_twice_stores_it_once(store: NotifyStore) -> None:
    user, now = new_user(), position()
    await store.insert([entry(user, now + 1), entry(user, now + 2)])
    await store.insert([entry(user, now + 2), entry(user, now + 3)])
    page = await store.replay(user, after=now, limit=10)
    assert [n.cursor - now for n in page.notifications] == [1, 2, 3]
    assert await store.last_cursor(user) == now + 3


async def test_inbox_pages_go_newest_first_with_unread_count(store: NotifyStore) -> None:
    user, now = new_user(), position()
    await store.insert([entry(user, now + c) for c in (3, 10, 11, 40, 52)])  # not 1, 2, 3
    first = await store.inbox(user, unread_only=False, before=None, limit=2)
    assert [i.notification.cursor - now for i in first.items] == [52, 40]
    assert first.has_more
    assert first.unread_count == 5
    rest = await store.inbox(user, unread_only=False, before=now + 40, limit=10)
    assert [i.notification.cursor - now for i in rest.items] == [11, 10, 3]
    assert not rest.has_more


async def test_reading_one_then_all_counts_exactly(store: NotifyStore) -> None:
    user, now = new_user(), position()
    await store.insert([entry(user, now + c) for c in (2, 7, 9, 14, 30)])
    one = await store.mark_read(user, f"{user}-{now + 14}")
    assert one is not None
    assert one.unread_count == 4
    unread = await store.inbox(user, unread_only=True, before=None, limit=10)
    assert [i.notification.cursor - now for i in unread.items] == [30, 9, 7, 2]
    every = await store.inbox(user, unread_only=False, before=None, limit=10)
    assert [i.read for i in every.items] == [False, True, False, False, False]
    everything = await store.mark_all_read(user, upto=now + 12)
    assert everything.unread_count == 1  # 30 is left; 14 was read on its own
    assert everything.version > one.version


async def test_reading_an_unknown_notification_finds_nothing(store: NotifyStore) -> None:
    assert await store.mark_read(new_user(), "nope") is None


async def test_replay_reports_the_read_state_of_its_window(store: NotifyStore) -> None:
    user, now = new_user(), position()
    await store.insert([entry(user, now + c) for c in (10, 20, 30, 40, 50, 60, 70)])
    await store.mark_all_read(user, upto=now + 20)
    await store.mark_read(user, f"{user}-{now + 50}")
    await store.mark_read(user, f"{user}-{now + 70}")
    page = await store.replay(user, after=now + 30, limit=3)
    assert [n.cursor - now for n in page.notifications] == [40, 50, 60]
    assert page.read_upto == now + 20
    assert page.read_cursors == [now + 50]  # the window ends at the last entry given
    states = await store.replay(user, after=now + 30, limit=3, upto=now + 70, states_only=True)
    assert (states.notifications, states.read_cursors) == ([], [now + 50, now + 70])


async def test_replay_stops_before_what_the_stream_still_holds(store: NotifyStore) -> None:
    user, now = new_user(), position()
    await store.insert([entry(user, now + c) for c in (5, 8, 13, 21)])
    page = await store.replay(user, after=now + 5, limit=10, before=now + 21)
    assert [n.cursor - now for n in page.notifications] == [8, 13]


async def test_entries_of_before_positions_and_after_count_as_one_inbox(
    store: NotifyStore,
) -> None:
    """Entries stored before cursors became positions keep their per-user cursors (1, 2, 3),
    below any later position; read state and counts span both. (The newer ones are stored
    first here, so that the user's `all` membership starts at ``now``, not at 0, which would
    take in other tests' broadcasts.)"""
    user, now = new_user(), position()
    await store.insert([entry(user, now + c) for c in (1, 5)])  # `all` from now on
    await store.insert([entry(user, c) for c in (1, 2, 3)])
    await store.mark_all_read(user, upto=2)
    page = await store.inbox(user, unread_only=True, before=None, limit=10)
    assert [item.notification.cursor for item in page.items] == [now + 5, now + 1, 3]
    assert page.unread_count == 3


def position() -> int:
    """A stream position of this test's own: the audiences' entries are keyed by position alone,
    so each test writes its broadcasts far from every other test's."""
    return (1 << 52) + secrets.randbelow(1 << 40) * 1000


def broadcast(audience: str, cursor: int) -> Notification:
    """A broadcast's one entry for its whole audience, as the writer stores it."""
    return Notification(
        id=f"b-{cursor}",
        user_id="",
        cursor=cursor,
        type=NotificationType.INFO,
        title=f"b{cursor}",
        message="to all of them",
        timestamp=cursor,
        broadcast_id=f"b-{cursor}",
        team=audience.removeprefix("team.") if audience != ALL_AUDIENCE else None,
        audience=audience,
    )


def new_team() -> str:
    return f"t-{secrets.token_hex(4)}"


async def cursors(store: NotifyStore, user: str) -> list[int]:
    page = await store.inbox(user, unread_only=False, before=None, limit=100)
    return [item.notification.cursor for item in page.items]


async def test_a_broadcast_stored_once_is_in_every_members_inbox_as_theirs(
    store: NotifyStore, pool: asyncpg.Pool
) -> None:
    team, now = new_team(), position()
    alice, bob, outsider = new_user(), new_user(), new_user()
    await store.register(alice, [team], now)
    await store.register(bob, [team, new_team()], now)
    await store.register(outsider, [new_team()], now)
    sent = broadcast(audience_of(team), now + 5)
    await store.insert([sent])
    await store.insert([sent])  # redelivered: still one row
    stored = await pool.fetchval(
        "SELECT count(*) FROM audience_notifications WHERE id = $1", sent.id
    )
    assert stored == 1
    assert await pool.fetchval("SELECT count(*) FROM notifications WHERE id = $1", sent.id) == 0
    for member in (alice, bob):
        page = await store.inbox(member, unread_only=False, before=None, limit=10)
        assert [item.notification for item in page.items] == [sent.for_member(member)]
        assert page.unread_count == 1
        replay = await store.replay(member, after=now, limit=10)
        assert replay.notifications == [sent.for_member(member)]
        assert await store.last_cursor(member) == sent.cursor
    assert await cursors(store, outsider) == []
    assert await store.last_cursor(outsider) == 0


async def test_a_user_who_joins_after_a_broadcast_does_not_get_it(store: NotifyStore) -> None:
    team, now = new_team(), position()
    early, late = new_user(), new_user()
    await store.register(early, [team], now)
    await store.insert([broadcast(audience_of(team), now + 1)])
    await store.register(late, [team], now + 1)  # the stream's last position was the broadcast
    await store.insert([broadcast(audience_of(team), now + 3)])
    assert await cursors(store, early) == [now + 3, now + 1]
    assert await cursors(store, late) == [now + 3]
    replay = await store.replay(late, after=0, limit=10)
    assert [n.cursor for n in replay.notifications] == [now + 3]


async def test_a_user_who_left_a_team_keeps_what_came_while_a_member(store: NotifyStore) -> None:
    team, now = new_team(), position()
    user, stays = new_user(), new_user()
    audience = audience_of(team)
    await store.register(user, [team], now)
    await store.register(stays, [team], now)
    await store.insert([broadcast(audience, now + 1)])
    await store.register(user, [], now + 2)  # left the team at position now + 2
    await store.insert([broadcast(audience, now + 3)])
    assert await cursors(store, user) == [now + 1]
    await store.register(user, [team], now + 4)  # back
    await store.insert([broadcast(audience, now + 5)])
    assert await cursors(store, user) == [now + 5, now + 1]
    assert await cursors(store, stays) == [now + 5, now + 3, now + 1]
    assert await store.memberships(user) == [
        Membership(audience=ALL_AUDIENCE, from_cursor=now),
        Membership(audience=audience, from_cursor=now, to_cursor=now + 2),
        Membership(audience=audience, from_cursor=now + 4),
    ]


async def test_registering_again_with_the_same_teams_changes_nothing(store: NotifyStore) -> None:
    first, second, now = new_team(), new_team(), position()
    user = new_user()
    await store.register(user, [second, first, first], now)
    joined = await store.memberships(user)
    assert joined == sorted(
        [
            Membership(audience=ALL_AUDIENCE, from_cursor=now),
            Membership(audience=audience_of(first), from_cursor=now),
            Membership(audience=audience_of(second), from_cursor=now),
        ],
        key=lambda m: m.audience,
    )
    await store.register(user, [first, second], now + 10)
    await store.register(user, None, now + 20)  # a connection without teams keeps them
    assert await store.memberships(user) == joined


async def test_leaving_a_team_where_one_joined_it_leaves_no_interval(store: NotifyStore) -> None:
    """An interval (p, p] would cover nothing: it goes, and joining again at p opens one."""
    team, now = new_team(), position()
    user = new_user()
    await store.register(user, [team], now)
    await store.register(user, [], now)
    assert await store.memberships(user) == [Membership(audience=ALL_AUDIENCE, from_cursor=now)]
    await store.register(user, [team], now)
    await store.insert([broadcast(audience_of(team), now + 1)])
    assert await cursors(store, user) == [now + 1]


async def test_joining_again_never_reaches_back_before_the_last_leave(store: NotifyStore) -> None:
    """A registration that read an older last position than the one that closed the interval
    (two connections racing) starts the new interval where the old one ended: no overlap, no
    entry twice."""
    team, now = new_team(), position()
    user = new_user()
    audience = audience_of(team)
    await store.register(user, [team], now)
    await store.insert([broadcast(audience, now + 1), broadcast(audience, now + 3)])
    await store.register(user, [], now + 5)
    await store.register(user, [team], now + 2)  # an older position, read before the leave
    await store.insert([broadcast(audience, now + 6)])
    assert await cursors(store, user) == [now + 6, now + 3, now + 1]
    assert [m for m in await store.memberships(user) if m.audience == audience] == [
        Membership(audience=audience, from_cursor=now, to_cursor=now + 5),
        Membership(audience=audience, from_cursor=now + 5),
    ]


async def test_a_users_first_entry_makes_them_a_member_of_all_from_before_it(
    store: NotifyStore,
) -> None:
    now = position()
    newcomer, registered = new_user(), new_user()
    await store.insert([entry(newcomer, now + 7), entry(newcomer, now + 9)])
    await store.insert([entry(newcomer, now + 12)])  # a member already: unchanged
    assert await store.memberships(newcomer) == [
        Membership(audience=ALL_AUDIENCE, from_cursor=now + 6)
    ]
    await store.register(registered, None, now)
    await store.insert([entry(registered, now + 3)])
    assert await store.memberships(registered) == [
        Membership(audience=ALL_AUDIENCE, from_cursor=now)
    ]


async def test_unread_counts_and_reads_span_own_and_audience_entries(store: NotifyStore) -> None:
    team, now = new_team(), position()
    user = new_user()
    audience = audience_of(team)
    await store.register(user, [team], now)
    await store.insert(
        [
            entry(user, now + 1),
            broadcast(audience, now + 2),
            entry(user, now + 3),
            broadcast(audience, now + 4),
            broadcast(audience, now + 5),
        ]
    )
    page = await store.inbox(user, unread_only=False, before=None, limit=2)
    assert [i.notification.cursor for i in page.items] == [now + 5, now + 4]
    assert page.has_more
    assert page.unread_count == 5
    one = await store.mark_read(user, f"b-{now + 4}")
    assert one is not None
    assert one.unread_count == 4
    own = await store.mark_read(user, f"{user}-{now + 3}")
    assert own is not None
    assert own.unread_count == 3
    unread = await store.inbox(user, unread_only=True, before=None, limit=10)
    assert [i.notification.cursor for i in unread.items] == [now + 5, now + 2, now + 1]
    states = await store.replay(user, after=now, limit=10)
    assert [n.cursor for n in states.notifications] == [now + c for c in (1, 2, 3, 4, 5)]
    assert states.read_cursors == [now + 3, now + 4]
    upto = await store.mark_all_read(user, upto=now + 2)
    assert upto.unread_count == 1  # now + 5; 3 and 4 were read one by one
    everything = await store.mark_all_read(user, upto=await store.last_cursor(user))
    assert everything.unread_count == 0
    assert await store.last_cursor(user) == now + 5


async def test_reading_a_broadcast_marks_it_for_that_member_only(store: NotifyStore) -> None:
    team, now = new_team(), position()
    alice, bob = new_user(), new_user()
    await store.register(alice, [team], now)
    await store.register(bob, [team], now)
    sent = broadcast(audience_of(team), now + 1)
    await store.insert([sent])
    read = await store.mark_read(alice, sent.id)
    assert read is not None
    assert read.unread_count == 0
    page = await store.inbox(bob, unread_only=False, before=None, limit=10)
    assert [item.read for item in page.items] == [False]
    assert page.unread_count == 1
    assert await store.mark_read(new_user(), sent.id) is None  # not a member: not theirs


async def test_first_entries_and_first_registrations_at_once_leave_one_open_interval(
    store: NotifyStore, pool: asyncpg.Pool
) -> None:
    """The writer and a registration of the same new users, side by side: each user ends a
    member of 'all' once, and neither fails (one open interval per audience: the partial
    unique index, both inserting with ON CONFLICT DO NOTHING)."""
    now = position()
    users = sorted(new_user() for _ in range(40))
    batches = [users[i : i + 8] for i in range(0, len(users), 8)]
    async with asyncio.timeout(30):
        await asyncio.gather(
            *(store.insert([entry(u, now + 1) for u in batch]) for batch in batches),
            *(store.register(u, None, now) for u in reversed(users)),
        )
    rows = await pool.fetch(
        "SELECT user_id, count(*) FROM audience_members"
        " WHERE user_id = ANY($1::text[]) AND to_cursor IS NULL GROUP BY user_id",
        users,
    )
    assert {row["user_id"]: row["count"] for row in rows} == dict.fromkeys(users, 1)
