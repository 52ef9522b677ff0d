"""A broadcast stored once, against real NATS and PostgreSQL: registrations open and close
memberships at the NOTIFY stream's position, the writer stores an audience's entry once at its
position, members (and only they) find it in their inboxes, and an inbox page waits for the
newest broadcast the stream holds."""

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator

import asyncpg
import pytest
from nats.js import JetStreamContext
from switchboard_contracts import ErrorCode, endpoints, streams, subjects
from switchboard_contracts.notify import (
    ALL_AUDIENCE,
    InboxRequest,
    MarkReadRequest,
    Membership,
    MembershipsRequest,
    Notification,
    NotificationType,
    RegisterRequest,
    at_position,
    audience_of,
)
from switchboard_devstack.names import new_user
from switchboard_devstack.polling import until
from switchboard_persistence.notify_requests import NotifyRequests
from switchboard_persistence.notify_store import NotifyStore
from switchboard_persistence.stream_writer import StreamWriter
from switchboard_runtime import Bus

pytestmark = pytest.mark.component

WAIT = 20.0


class WatchedRequests(NotifyRequests):
    """The real handlers, telling the test when a reader found the writer behind ``awaited``."""

    def __init__(self, bus: Bus, store: NotifyStore) -> None:
        super().__init__(bus, store)
        self.found_behind = asyncio.Event()
        self.awaited = 0

    async def _acked_floor(self, js: JetStreamContext) -> int:
        floor = await super()._acked_floor(js)
        if floor < self.awaited:
            self.found_behind.set()
        return floor


@pytest.fixture
def store(pool: asyncpg.Pool) -> NotifyStore:
    return NotifyStore(pool)


@pytest.fixture
async def requests(bus: Bus, store: NotifyStore) -> AsyncIterator[WatchedRequests]:
    """The handlers, served on the bus as persistence serves them."""
    handlers = WatchedRequests(bus, store)
    served = await handlers.serve()
    yield handlers
    for subscription in served:
        await subscription.unsubscribe()


@contextlib.asynccontextmanager
async def writing(bus: Bus, store: NotifyStore) -> AsyncIterator[None]:
    """The NOTIFY writer as persistence runs it (its durable consumer), while in the block."""
    writer = StreamWriter(
        bus.nc,
        streams.PERSISTENCE_NOTIFY_CONSUMER,
        Notification,
        store.insert,
        100,
        table="notifications",
        retry_delay=0.05,
        at_sequence=at_position,
    )
    task = asyncio.create_task(writer.run())
    try:
        yield
    finally:
        writer.stop()
        await asyncio.wait_for(task, timeout=WAIT)


async def last_position(bus: Bus) -> int:
    return (await bus.js.stream_info(streams.NOTIFY.name)).state.last_seq


async def broadcast(bus: Bus, audience: str) -> Notification:
    """A broadcast's one entry, published as notification publishes it (no user, no cursor);
    given its position as readers do."""
    broadcast_id = f"b-{secrets.token_hex(6)}"
    draft = Notification(
        id=broadcast_id,
        user_id="",
        cursor=0,
        type=NotificationType.WARNING,
        title="maintenance",
        message="tonight",
        timestamp=1,
        broadcast_id=broadcast_id,
        team=audience.removeprefix("team.") if audience != ALL_AUDIENCE else None,
        audience=audience,
    )
    ack = await bus.js.publish(
        subjects.notify_audience(audience), draft.encode(), stream=streams.NOTIFY.name
    )
    return at_position(draft, ack.seq)


async def stored(pool: asyncpg.Pool, entry: Notification) -> None:
    async def there() -> bool:
        found = await pool.fetchval(
            "SELECT count(*) FROM audience_notifications WHERE cursor = $1", entry.cursor
        )
        return bool(found)

    await until(there, f"the broadcast at {entry.cursor} stored", timeout=WAIT)


async def test_registering_opens_and_closes_memberships_at_the_streams_position(
    bus: Bus, requests: WatchedRequests
) -> None:
    user, team = new_user(), f"t-{secrets.token_hex(4)}"
    joined = await last_position(bus)
    reply = await bus.ask(
        endpoints.PERSISTENCE_NOTIFY_REGISTER, RegisterRequest(user_id=user, teams=[team])
    )
    assert reply.error is None
    asked = MembershipsRequest(user_id=user)
    before = await bus.ask(endpoints.PERSISTENCE_NOTIFY_MEMBERSHIPS, asked)
    assert before.memberships == [
        Membership(audience=ALL_AUDIENCE, from_cursor=joined),
        Membership(audience=audience_of(team), from_cursor=joined),
    ]
    await broadcast(bus, audience_of(f"t-{secrets.token_hex(4)}"))  # the stream moves on
    left = await last_position(bus)
    assert left > joined
    await bus.ask(endpoints.PERSISTENCE_NOTIFY_REGISTER, RegisterRequest(user_id=user, teams=[]))
    after = await bus.ask(endpoints.PERSISTENCE_NOTIFY_MEMBERSHIPS, asked)
    assert after.memberships == [
        Membership(audience=ALL_AUDIENCE, from_cursor=joined),
        Membership(audience=audience_of(team), from_cursor=joined, to_cursor=left),
    ]
    await bus.ask(endpoints.PERSISTENCE_NOTIFY_REGISTER, RegisterRequest(user_id=user, teams=[]))
    again = await bus.ask(endpoints.PERSISTENCE_NOTIFY_MEMBERSHIPS, asked)
    assert again.memberships == after.memberships


async def test_bad_ids_are_refused(bus: Bus, requests: WatchedRequests) -> None:
    memberships = await bus.ask(
        endpoints.PERSISTENCE_NOTIFY_MEMBERSHIPS, MembershipsRequest(user_id="not a user")
    )
    assert memberships.error is not None
    assert memberships.error.code is ErrorCode.INVALID_USER
    register = await bus.ask(
        endpoints.PERSISTENCE_NOTIFY_REGISTER, RegisterRequest(user_id="not a user")
    )
    assert register.error is not None
    assert register.error.code is ErrorCode.INVALID_USER
    team = await bus.ask(
        endpoints.PERSISTENCE_NOTIFY_REGISTER,
        RegisterRequest(user_id=new_user(), teams=["not.a.team"]),
    )
    assert team.error is not None
    assert team.error.code is ErrorCode.INVALID_INPUT


async def test_the_writer_stores_a_broadcast_once_at_its_position_for_its_members(
    bus: Bus, store: NotifyStore, pool: asyncpg.Pool, requests: WatchedRequests
) -> None:
    member, late = new_user(), new_user()
    await requests.register(RegisterRequest(user_id=member))
    sent = await broadcast(bus, ALL_AUDIENCE)
    await requests.register(RegisterRequest(user_id=late))
    try:
        async with writing(bus, store):
            await stored(pool, sent)
        row = await pool.fetchrow(
            "SELECT cursor, audience, id, broadcast_id, title FROM audience_notifications"
            " WHERE id = $1",
            sent.id,
        )
        assert row is not None
        assert tuple(row) == (sent.cursor, ALL_AUDIENCE, sent.id, sent.id, "maintenance")
        page = await requests.inbox(InboxRequest(user_id=member))
        assert [item.notification for item in page.items] == [sent.for_member(member)]
        assert page.unread_count == 1
        assert (await requests.inbox(InboxRequest(user_id=late))).items == []
    finally:  # everyone is a member of 'all': no other test's inbox may find it
        await pool.execute("DELETE FROM audience_notifications WHERE cursor = $1", sent.cursor)


async def test_an_inbox_page_waits_for_the_newest_broadcast_to_be_stored(
    bus: Bus, store: NotifyStore, pool: asyncpg.Pool, requests: WatchedRequests
) -> None:
    member, stranger, team = new_user(), new_user(), f"t-{secrets.token_hex(4)}"
    await requests.register(RegisterRequest(user_id=member, teams=[team]))
    sent = await broadcast(bus, audience_of(team))
    requests.awaited = sent.cursor
    reading = asyncio.create_task(requests.inbox(InboxRequest(user_id=member)))
    try:
        async with asyncio.timeout(5):
            await requests.found_behind.wait()
        assert not reading.done(), "the page was answered before the broadcast was stored"
        async with writing(bus, store):
            async with asyncio.timeout(5):
                page = await reading
    finally:
        reading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reading
    assert [item.notification for item in page.items] == [sent.for_member(member)]
    assert page.unread_count == 1
    read = await requests.mark_read(MarkReadRequest(user_id=member, notification_id=sent.id))
    assert (read.error, read.unread_count) == (None, 0)
    theirs = await requests.mark_read(MarkReadRequest(user_id=stranger, notification_id=sent.id))
    assert theirs.error is not None
    assert theirs.error.code is ErrorCode.NOT_FOUND
