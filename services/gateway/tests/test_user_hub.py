"""The user hub on a real NATS: one subscription per user carries entries and unread counts;
one per audience carries broadcasts to every member here."""

import asyncio
import json
import secrets
from collections.abc import AsyncIterator

import pytest
from switchboard_contracts import streams, subjects
from switchboard_contracts.notify import (
    EVENT_HEADER,
    UNREAD_EVENT,
    Notification,
    NotificationType,
    UnreadEvent,
    audience_of,
)
from switchboard_devstack.stores import Stores
from switchboard_gateway.notifications.client import NotificationsUnavailableError
from switchboard_gateway.notifications.events import AudienceEntry, Entry, MemberEntry, Unread
from switchboard_gateway.notifications.user_hub import REGISTRATION_WORKERS, KnownUsers, UserHub
from switchboard_gateway.settings import GatewaySettings
from switchboard_runtime import Bus, ensure_stream

pytestmark = pytest.mark.component

WAIT = 5.0


class Recorder:
    def __init__(self) -> None:
        self.events: asyncio.Queue[Entry | Unread] = asyncio.Queue()
        self.calls: list[str] = []

    def push(self, event: Entry | Unread) -> None:
        self.events.put_nowait(event)

    def push_member(self, shared: AudienceEntry, user_id: str) -> None:
        self.push(shared.for_member(user_id))

    def hold(self) -> None:
        self.calls.append("hold")

    def resync(self) -> None:
        self.calls.append("resync")

    async def next(self) -> Entry | Unread:
        return await asyncio.wait_for(self.events.get(), WAIT)


def counts(event: Entry | Unread) -> tuple[int, int]:
    assert isinstance(event, Unread)
    return event.unread_count, event.version


@pytest.fixture
async def bus(stores: Stores) -> AsyncIterator[Bus]:
    bus = Bus(GatewaySettings(nats_url=stores.nats_url), name="user-hub-test")
    await bus.connect()
    await ensure_stream(bus.js, streams.NOTIFY)
    yield bus
    await bus.close()


def notification(user: str, cursor: int, title: str = "t") -> Notification:
    return Notification(
        id=f"n-{title}", user_id=user, cursor=cursor, type=NotificationType.INFO, title=title,
        message="m", timestamp=1,
    )  # fmt: skip


async def unread(bus: Bus, user: str, count: int, version: int) -> None:
    event = UnreadEvent(user_id=user, unread_count=count, version=version)
    await bus.nc.publish(
        subjects.notify_live(user), event.encode(), headers={EVENT_HEADER: UNREAD_EVENT}
    )


async def test_entries_and_unread_counts_arrive_on_the_one_live_subscription(bus: Bus) -> None:
    user = f"u-{secrets.token_hex(4)}"
    hub, recorder = UserHub(bus), Recorder()
    await hub.attach(user, recorder)
    stored = notification(user, cursor=0)
    ack = await bus.js.publish(subjects.notify_user(user), stored.encode())
    entry = await recorder.next()
    assert isinstance(entry, Entry)
    assert entry.notification == stored.model_copy(update={"cursor": ack.seq})
    await unread(bus, user, count=3, version=2)
    await unread(bus, user, count=9, version=1)  # an older change arriving late: dropped
    await unread(bus, user, count=2, version=3)
    assert [counts(await recorder.next()), counts(await recorder.next())] == [(3, 2), (2, 3)]
    await hub.detach(user, recorder)


async def test_a_user_is_one_subscription_however_many_connections(bus: Bus) -> None:
    user = f"u-{secrets.token_hex(4)}"
    hub, first, second = UserHub(bus), Recorder(), Recorder()
    before = len(bus.nc._subs)  # nats-py keeps no public count
    await hub.attach(user, first)
    await hub.attach(user, second)
    assert len(bus.nc._subs) == before + 2  # the user's, and the gateway's one for `all`
    await unread(bus, user, count=1, version=1)
    shared = await first.next()
    assert shared is await second.next()  # decoded once for both
    assert counts(shared) == (1, 1)
    await hub.detach(user, first)
    await hub.detach(user, second)
    assert len(bus.nc._subs) == before


async def test_connections_of_one_user_coming_and_going_at_once_leave_it_subscribed_once(
    bus: Bus,
) -> None:
    """Attaching and detaching run concurrently; the user's lock serialises them and is not
    kept once nobody holds or waits for it."""
    user = f"u-{secrets.token_hex(4)}"
    hub = UserHub(bus)
    recorders = [Recorder() for _ in range(6)]
    before = len(bus.nc._subs)
    await asyncio.gather(*(hub.attach(user, recorder) for recorder in recorders))
    await asyncio.gather(*(hub.detach(user, recorder) for recorder in recorders[:5]))
    assert len(bus.nc._subs) == before + 2  # the user's, and `all`
    assert hub._locks == {}
    await unread(bus, user, count=2, version=1)
    assert counts(await recorders[5].next()) == (2, 1)
    await asyncio.gather(hub.detach(user, recorders[5]), hub.attach(user, recorders[0]))
    await hub.detach(user, recorders[0])
    assert len(bus.nc._subs) == before
    assert hub._locks == {}


async def test_a_live_entry_is_at_its_stream_position_and_an_old_one_keeps_its_cursor(
    bus: Bus,
) -> None:
    user = f"u-{secrets.token_hex(4)}"
    other = f"u-{secrets.token_hex(4)}"
    hub, recorder = UserHub(bus), Recorder()
    await hub.attach(user, recorder)
    first = await bus.js.publish(subjects.notify_user(user), notification(user, 0, "a").encode())
    await bus.js.publish(subjects.notify_user(other), notification(other, 0, "x").encode())
    old = notification(user, 4, "old")  # published before cursors became positions
    await bus.js.publish(subjects.notify_user(user), old.encode())
    second = await bus.js.publish(subjects.notify_user(user), notification(user, 0, "b").encode())
    given = [await recorder.next() for _ in range(3)]
    assert [(e.notification.title, e.cursor) for e in given if isinstance(e, Entry)] == [
        ("a", first.seq),
        ("old", 4),
        ("b", second.seq),
    ]
    assert second.seq > first.seq + 1  # the other user's entry lies between
    await hub.detach(user, recorder)


async def test_a_notification_without_a_usable_stream_position_is_dropped(bus: Bus) -> None:
    """Only the stream's republish carries ``Nats-Sequence``; anything else on the subject is
    no entry of the inbox. Messages on one subscription arrive in order, so the stored entry
    coming next proves the ones before it were dropped."""
    user = f"u-{secrets.token_hex(4)}"
    hub, recorder = UserHub(bus), Recorder()
    await hub.attach(user, recorder)
    live = subjects.notify_live(user)
    await bus.nc.publish(live, notification(user, 0, "none").encode())
    await bus.nc.publish(live, notification(user, 7, "old").encode())
    for unusable in ("", "seven", "0", "-3"):
        headers = {"Nats-Sequence": unusable}
        await bus.nc.publish(live, notification(user, 0, "bad").encode(), headers=headers)
    ack = await bus.js.publish(subjects.notify_user(user), notification(user, 0, "ok").encode())
    entry = await recorder.next()
    assert isinstance(entry, Entry)
    assert (entry.notification.title, entry.cursor) == ("ok", ack.seq)
    assert recorder.events.empty()
    await hub.detach(user, recorder)


async def test_a_bus_disconnect_holds_every_subscriber_until_the_reconnect_resyncs_it(
    bus: Bus,
) -> None:
    hub, first, second = UserHub(bus), Recorder(), Recorder()
    users = [f"u-{secrets.token_hex(4)}", f"u-{secrets.token_hex(4)}"]
    await hub.attach(users[0], first)
    await hub.attach(users[1], second)
    hub.hold_all()
    hub.resync_all()
    assert first.calls == second.calls == ["hold", "resync"]
    await hub.detach(users[0], first)
    await hub.detach(users[1], second)


def broadcast(team: str | None, title: str) -> Notification:
    """As notification stores a broadcast: once for its audience, without a user."""
    return Notification(
        id=f"b-{title}", user_id="", cursor=0, type=NotificationType.INFO, title=title,
        message="m", timestamp=1, broadcast_id=f"b-{title}", team=team,
        audience=audience_of(team),
    )  # fmt: skip


async def test_a_broadcast_reaches_each_member_here_once_with_their_own_id(bus: Bus) -> None:
    team = f"t{secrets.token_hex(3)}"
    alice, bob, carol = (f"u-{secrets.token_hex(4)}" for _ in range(3))
    teams = {alice: {f"team.{team}"}, bob: {f"team.{team}"}, carol: set[str]()}

    async def audiences(user: str) -> set[str]:
        return teams[user]

    hub = UserHub(bus, audiences=audiences)
    recorders = {user: Recorder() for user in teams}
    before = len(bus.nc._subs)
    for user, recorder in recorders.items():
        await hub.attach(user, recorder)
    assert len(bus.nc._subs) == before + 3 + 2  # a subscription per user, one per audience
    sent = broadcast(team, "to the team")
    ack = await bus.js.publish(subjects.notify_audience(f"team.{team}"), sent.encode())
    everyone = await bus.js.publish(
        subjects.notify_audience("all"), broadcast(None, "all").encode()
    )
    got = {user: [await recorders[user].next()] for user in (alice, bob)}
    for user in (alice, bob):
        got[user].append(await recorders[user].next())
    [carols] = [await recorders[carol].next()]
    assert isinstance(carols, MemberEntry)
    assert (carols.cursor, carols.shown["title"], carols.user_id) == (everyone.seq, "all", carol)
    for user in (alice, bob):
        first, second = got[user]
        assert isinstance(first, MemberEntry)
        assert isinstance(second, MemberEntry)
        assert (first.cursor, second.cursor) == (ack.seq, everyone.seq)  # in stream order
        frame = json.loads(first.frame)
        assert (frame["cursor"], frame["payload"]["userId"]) == (ack.seq, user)
        block = first.sse_bytes.decode()
        assert block.startswith(f"id: {ack.seq}\nevent: notification\ndata: ")
        data = json.loads(block.split("data: ", 1)[1])
        assert data == {**first.shown}
        assert (data["userId"], data["team"], data["broadcastId"]) == (user, team, sent.id)
    alices, bobs = got[alice][0], got[bob][0]
    assert isinstance(alices, MemberEntry)
    assert isinstance(bobs, MemberEntry)
    assert alices.shared is bobs.shared  # decoded and encoded once
    for user, recorder in recorders.items():
        await hub.detach(user, recorder)
    assert len(bus.nc._subs) == before  # the audiences' subscriptions go with their last member


async def test_a_user_whose_audiences_cannot_be_read_still_hears_broadcasts_to_everyone(
    bus: Bus,
) -> None:
    async def unavailable(user: str) -> set[str]:
        raise NotificationsUnavailableError("persistence is down")

    user = f"u-{secrets.token_hex(4)}"
    hub, recorder = UserHub(bus, audiences=unavailable), Recorder()
    await hub.attach(user, recorder)
    ack = await bus.js.publish(subjects.notify_audience("all"), broadcast(None, "x").encode())
    entry = await recorder.next()
    assert isinstance(entry, MemberEntry)
    assert (entry.cursor, entry.user_id) == (ack.seq, user)
    await hub.detach(user, recorder)


async def test_a_broadcast_reaches_the_connections_attached_now_not_one_that_left(
    bus: Bus,
) -> None:
    user = f"u-{secrets.token_hex(4)}"
    hub = UserHub(bus)
    left, first, later = Recorder(), Recorder(), Recorder()
    for recorder in (left, first, later):
        await hub.attach(user, recorder)
    await hub.detach(user, left)
    ack = await bus.js.publish(subjects.notify_audience("all"), broadcast(None, "x").encode())
    for recorder in (first, later):
        entry = await recorder.next()
        assert isinstance(entry, MemberEntry)
        assert (entry.cursor, entry.user_id) == (ack.seq, user)
    assert left.events.empty(), "pushed in the same turn as the others', had it been"
    for recorder in (first, later):
        await hub.detach(user, recorder)


async def test_sockets_register_their_users_through_a_few_workers_each_user_once() -> None:
    """``tell_later`` queues users rather than starting a task each (memory per idle
    connection): at most ``REGISTRATION_WORKERS`` wait for persistence at once."""
    told: list[str] = []
    waiting = 0
    most = 0
    release = asyncio.Event()

    async def register(user: str, teams: list[str] | None) -> None:
        nonlocal waiting, most
        waiting += 1
        most = max(most, waiting)
        await release.wait()
        waiting -= 1
        told.append(user)

    known = KnownUsers(register)
    users = [f"u-{n}" for n in range(100)]
    for user in [*users, users[0]]:  # a user queued twice is told once
        known.tell_later(user, None)
    await asyncio.sleep(0)
    assert waiting == REGISTRATION_WORKERS
    release.set()
    async with asyncio.timeout(WAIT):
        while len(told) < len(users):  # noqa: ASYNC110 (the workers run on this loop)
            await asyncio.sleep(0)
    assert sorted(told) == sorted(users)
    assert most == REGISTRATION_WORKERS
    known.tell_later(users[1], None)  # told recently: nothing queued
    await asyncio.sleep(0)
    assert len(told) == len(users)
