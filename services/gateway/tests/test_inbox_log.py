"""The stored inbox on a real NATS: entries are published with cursor 0 and read at their NOTIFY
stream position; what the stream no longer holds, and the read state, come from persistence
(a fake one here, answering on the bus as persistence does). Last, the long-poll on top of it
and the live subscription."""

import asyncio
import secrets
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from switchboard_contracts import BusError, ErrorCode, endpoints, streams, subjects
from switchboard_contracts.notify import (
    LastCursorReply,
    LastCursorRequest,
    Membership,
    Notification,
    NotificationType,
    ReplayReply,
    ReplayRequest,
)
from switchboard_devstack.stores import Stores
from switchboard_gateway.edge.drain import Drain
from switchboard_gateway.notifications.client import NotificationsClient
from switchboard_gateway.notifications.events import Entry
from switchboard_gateway.notifications.http_api import NotificationsApi
from switchboard_gateway.notifications.inbox_follower import Gone
from switchboard_gateway.notifications.inbox_log import InboxUnavailableError, StoredInbox
from switchboard_gateway.notifications.keepalive import KeepaliveSweep
from switchboard_gateway.notifications.user_hub import KnownUsers, UserHub
from switchboard_gateway.settings import GatewaySettings
from switchboard_runtime import Bus, ensure_stream

pytestmark = pytest.mark.component

TIMEOUT = 2.0


class FakePersistence:
    """Answers replay and last-cursor requests as persistence does, from what it was given."""

    def __init__(self) -> None:
        self.stored: list[Notification] = []
        self.read_upto = 0
        self.read_cursors: list[int] = []
        self.last_cursor = 0
        self.available = True
        self.requests: list[ReplayRequest] = []

    async def replay(self, request: ReplayRequest) -> ReplayReply:
        self.requests.append(request)
        if not self.available:
            return ReplayReply(error=BusError(code=ErrorCode.UNAVAILABLE, message="down"))
        found = [] if request.states_only else self._after(request)
        upto = request.upto if request.upto is not None else (found[-1].cursor if found else 0)
        return ReplayReply(
            notifications=found,
            read_upto=self.read_upto,
            read_cursors=[c for c in self.read_cursors if request.after < c <= upto],
        )

    def _after(self, request: ReplayRequest) -> list[Notification]:
        before = request.before
        return [
            n
            for n in self.stored
            if n.user_id == request.user_id
            and n.cursor > request.after
            and (before is None or n.cursor < before)
        ][: request.limit]

    async def last(self, request: LastCursorRequest) -> LastCursorReply:
        if not self.available:
            return LastCursorReply(error=BusError(code=ErrorCode.UNAVAILABLE, message="down"))
        return LastCursorReply(cursor=self.last_cursor)


@pytest.fixture
async def bus(stores: Stores) -> AsyncIterator[Bus]:
    bus = Bus(GatewaySettings(nats_url=stores.nats_url), name="inbox-log-test")
    await bus.connect()
    await ensure_stream(bus.js, streams.NOTIFY)
    yield bus
    await bus.close()


@pytest.fixture
async def persistence(bus: Bus) -> AsyncIterator[FakePersistence]:
    fake = FakePersistence()
    served = [
        await bus.serve(endpoints.PERSISTENCE_NOTIFY_REPLAY, fake.replay),
        await bus.serve(endpoints.PERSISTENCE_NOTIFY_LAST_CURSOR, fake.last),
    ]
    await bus.nc.flush()
    yield fake
    for subscription in served:
        await subscription.unsubscribe()


def a_user() -> str:
    return f"u-{secrets.token_hex(4)}"


def notification(user: str, title: str, cursor: int = 0) -> Notification:
    return Notification(
        id=f"n-{title}", user_id=user, cursor=cursor, type=NotificationType.INFO, title=title,
        message="m", timestamp=1,
    )  # fmt: skip


async def publish(bus: Bus, user: str, title: str, cursor: int = 0) -> int:
    """Stores an entry as the notification service does (cursor 0: its position gives it one),
    with another user's entry after it, so that a user's positions are not consecutive."""
    ack = await bus.js.publish(
        subjects.notify_user(user), notification(user, title, cursor).encode()
    )
    other = a_user()
    await bus.js.publish(subjects.notify_user(other), notification(other, "other").encode())
    return ack.seq


def titles_and_cursors(answer: dict[str, object]) -> list[tuple[str, int]]:
    """A long-poll answer's notifications."""
    notifications = answer["notifications"]
    assert isinstance(notifications, list)
    return [(n["title"], n["cursor"]) for n in notifications]


def cursors(page: list[Entry] | Gone) -> list[int]:
    assert isinstance(page, list)
    return [e.cursor for e in page]


def shown(page: list[Entry] | Gone) -> list[tuple[str, int, bool]]:
    assert isinstance(page, list)
    return [(e.notification.title, e.cursor, e.read) for e in page]


async def test_the_head_is_the_newest_position_of_the_stream_whoever_it_is_of(
    bus: Bus, persistence: FakePersistence
) -> None:
    """Every cursor a client can hold is at or below it: a resume from any of them is no reset,
    and a stream that starts at the head misses nothing stored after."""
    user, nobody = a_user(), a_user()
    await publish(bus, user, "a")
    mine = await publish(bus, user, "b")  # another user's entry follows it
    inbox = StoredInbox(bus, TIMEOUT)
    assert await inbox.head(user) == mine + 1
    assert await inbox.head(nobody) == mine + 1


async def test_an_entry_stored_before_cursors_became_positions_never_lowers_the_head(
    bus: Bus, persistence: FakePersistence
) -> None:
    user = a_user()
    seq = await publish(bus, user, "old", cursor=4)
    assert await StoredInbox(bus, TIMEOUT).head(user) == seq + 1


async def test_entries_after_a_cursor_come_at_their_positions_with_their_read_state(
    bus: Bus, persistence: FakePersistence
) -> None:
    user = a_user()
    seqs = [await publish(bus, user, f"t{n}") for n in range(4)]
    persistence.read_upto = seqs[1]
    persistence.read_cursors = [seqs[3]]
    page = await StoredInbox(bus, TIMEOUT).read(user, seqs[0], 10)
    assert shown(page) == [
        ("t1", seqs[1], True),
        ("t2", seqs[2], False),
        ("t3", seqs[3], True),
    ]
    # the entries came from the stream; persistence gave only the read state of the page
    assert persistence.requests == [
        ReplayRequest(user_id=user, after=seqs[0], limit=10, upto=seqs[3], states_only=True)
    ]


async def test_a_cursor_between_two_positions_resumes_with_the_next_entry(
    bus: Bus, persistence: FakePersistence
) -> None:
    user = a_user()
    seqs = [await publish(bus, user, f"t{n}") for n in range(3)]
    assert seqs[1] - seqs[0] > 1
    page = await StoredInbox(bus, TIMEOUT).read(user, seqs[0] + 1, 10)
    assert cursors(page) == seqs[1:]


async def test_a_read_from_before_the_oldest_entry_asks_persistence_then_reads_the_stream(
    bus: Bus, persistence: FakePersistence
) -> None:
    """Positions are sparse: a cursor below the oldest entry the stream holds is normal, and
    persistence having nothing before it is no loss."""
    user = a_user()
    seqs = [await publish(bus, user, f"t{n}") for n in range(3)]
    page = await StoredInbox(bus, TIMEOUT).read(user, 0, 2)
    assert shown(page) == [("t0", seqs[0], False), ("t1", seqs[1], False)]
    assert persistence.requests == [
        ReplayRequest(user_id=user, after=0, limit=2, before=seqs[0]),
        ReplayRequest(user_id=user, after=0, limit=2, upto=seqs[1], states_only=True),
    ]


async def test_old_entries_keep_their_cursors_and_those_up_to_the_cursor_are_skipped(
    bus: Bus, persistence: FakePersistence
) -> None:
    user = a_user()
    await publish(bus, user, "old1", cursor=1)
    await publish(bus, user, "old2", cursor=2)
    seqs = [await publish(bus, user, f"new{n}") for n in range(3)]
    inbox = StoredInbox(bus, TIMEOUT)
    # from sequence 3 on, the old entries come first in the stream: skipped, and more read
    page = await inbox.read(user, 2, 3)
    assert shown(page) == [(f"new{n}", seqs[n], False) for n in range(3)]
    everything = await inbox.read(user, 0, 10)
    assert cursors(everything) == [1, 2, *seqs]


async def test_entries_the_stream_no_longer_holds_come_from_persistence_then_the_stream(
    bus: Bus, persistence: FakePersistence
) -> None:
    user = a_user()
    expired = [await publish(bus, user, f"gone{n}") for n in range(2)]
    for n, seq in enumerate(expired):  # past the stream's retention; persistence kept them
        await bus.js.delete_msg(streams.NOTIFY.name, seq)
        persistence.stored.append(notification(user, f"gone{n}", seq))
    kept = [await publish(bus, user, f"kept{n}") for n in range(2)]
    persistence.read_upto = expired[0]
    inbox = StoredInbox(bus, TIMEOUT)
    older = await inbox.read(user, 0, 10)
    assert shown(older) == [("gone0", expired[0], True), ("gone1", expired[1], False)]
    assert persistence.requests[0] == ReplayRequest(user_id=user, after=0, limit=10, before=kept[0])
    newer = await inbox.read(user, expired[1], 10)
    assert shown(newer) == [("kept0", kept[0], False), ("kept1", kept[1], False)]


async def test_an_inbox_the_stream_holds_nothing_of_is_read_from_persistence(
    bus: Bus, persistence: FakePersistence
) -> None:
    user = a_user()
    persistence.stored = [notification(user, "a", 10), notification(user, "b", 25)]
    persistence.read_cursors = [25]
    inbox = StoredInbox(bus, TIMEOUT)
    assert shown(await inbox.read(user, 0, 10)) == [("a", 10, False), ("b", 25, True)]
    assert persistence.requests == [ReplayRequest(user_id=user, after=0, limit=10)]
    assert await inbox.read(user, 25, 10) == []


async def test_without_persistence_older_entries_are_unavailable_and_newer_ones_unread(
    bus: Bus, persistence: FakePersistence
) -> None:
    user = a_user()
    seqs = [await publish(bus, user, f"t{n}") for n in range(2)]
    persistence.read_upto = seqs[1]
    persistence.available = False
    inbox = StoredInbox(bus, TIMEOUT)
    with pytest.raises(InboxUnavailableError):
        await inbox.read(user, 0, 10)  # below the stream's oldest: persistence must answer
    assert shown(await inbox.read(user, seqs[0], 10)) == [("t1", seqs[1], False)]


async def test_a_long_poll_answers_with_stream_positions_from_the_log_and_live(
    bus: Bus, persistence: FakePersistence
) -> None:
    settings = GatewaySettings(nats_url="nats://unused")

    async def register(user_id: str, teams: list[str] | None) -> None:
        pass

    api = NotificationsApi(
        settings,
        UserHub(bus),
        KnownUsers(register),
        NotificationsClient(bus, TIMEOUT),
        StoredInbox(bus, TIMEOUT),
        drain=Drain(1.0, 10, 1000),
        keepalives=KeepaliveSweep(settings.sse_keepalive_seconds),
    )
    user = a_user()
    seqs = [await publish(bus, user, f"t{n}") for n in range(3)]
    transport = httpx.ASGITransport(Starlette(routes=api.routes()))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:

        async def poll(cursor: int) -> dict[str, object]:
            params = {"userId": user, "cursor": str(cursor), "timeout": "10"}
            answer = await client.get("/api/notifications/poll", params=params)
            assert answer.status_code == 200
            body: dict[str, object] = answer.json()
            return body

        missed = await poll(seqs[0])
        assert (missed["cursor"], missed["reset"]) == (seqs[2], False)
        assert titles_and_cursors(missed) == [("t1", seqs[1]), ("t2", seqs[2])]
        waiting = asyncio.create_task(poll(seqs[2]))
        live = await publish(bus, user, "live")  # live, or in the log if before the poll began
        answer = await asyncio.wait_for(waiting, 10)
        assert answer["cursor"] == live
        assert titles_and_cursors(answer) == [("live", live)]


async def test_a_members_inbox_merges_their_own_entries_and_their_audiences_inside_their_intervals(
    bus: Bus, persistence: FakePersistence
) -> None:
    """A team's broadcasts before the user joined and after they left are not theirs; those in
    between are, with their id, in stream order among their own entries."""
    user, team = a_user(), f"t{secrets.token_hex(3)}"
    audience = f"team.{team}"

    async def team_broadcast(title: str) -> int:
        entry = Notification(
            id=f"b-{title}", user_id="", cursor=0, type=NotificationType.INFO, title=title,
            message="m", timestamp=1, broadcast_id=f"b-{title}", team=team, audience=audience,
        )  # fmt: skip
        return (await bus.js.publish(subjects.notify_audience(audience), entry.encode())).seq

    before_joining = await team_broadcast("before")
    mine = await publish(bus, user, "own")
    member = await team_broadcast("member")
    left = await team_broadcast("last as member")
    after_leaving = await team_broadcast("after")
    intervals = [Membership(audience=audience, from_cursor=before_joining, to_cursor=left)]

    async def memberships(user_id: str) -> list[Membership]:
        assert user_id == user
        return intervals

    inbox = StoredInbox(bus, TIMEOUT, memberships)
    page = await inbox.read(user, before_joining - 1, 10)
    assert shown(page) == [
        ("own", mine, False),
        ("member", member, False),
        ("last as member", left, False),
    ]
    assert isinstance(page, list)
    assert {e.notification.user_id for e in page} == {user}
    assert after_leaving > left
    assert cursors(await inbox.read(user, member, 10)) == [left]
