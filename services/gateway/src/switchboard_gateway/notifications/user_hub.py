"""Per-user fan-out: each user with an open stream or socket here has one core subscription,
on ``notify.live.user.<user>``, which carries both their own notifications (the NOTIFY stream's
republish, whose ``Nats-Sequence`` is the entry's cursor) and their unread count
(notification's events, marked with ``EVENT_HEADER``); every event is decoded and encoded once
per gateway and handed to each of the user's connections.

Broadcasts are stored once per audience (``all``, ``team.<team>``): the gateway subscribes once
per audience its connected users belong to (``notify.live.audience.<audience>``; a user's
audiences are their open memberships, read from persistence when their first connection here
attaches), decodes each entry once (``AudienceEntry``) and hands every member's connections
their copy, the same bytes with the member's id spliced in.

Sockets join with a text ``deliver`` (their outbox); SSE streams and long-polls attach a sink
that takes the event itself (they order entries by cursor, see ``inbox_follower``).
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from pydantic import ValidationError
from switchboard_contracts import subjects
from switchboard_contracts.notify import (
    ALL_AUDIENCE,
    EVENT_HEADER,
    UNREAD_EVENT,
    Notification,
    UnreadEvent,
    at_position,
)
from switchboard_contracts.reads import ROOM_READ_EVENT, ReadEvent
from switchboard_runtime import Bus

from switchboard_gateway.chat.frames import read_frame
from switchboard_gateway.metrics import NOTIFICATION_DELIVERIES, TurnCounter
from switchboard_gateway.notifications.events import AudienceEntry, Entry, Unread

__all__ = ["KnownUsers", "Subscriber", "UserHub"]

log = logging.getLogger(__name__)

Deliver = Callable[[str], None]
Register = Callable[[str, list[str] | None], Awaitable[None]]
Audiences = Callable[[str], Awaitable[set[str]]]
"""A user's audiences now (their open memberships)."""

SEQUENCE_HEADER = "Nats-Sequence"
"""Set by the stream on each message it republishes: the message's stream sequence."""

_WEBSOCKET_DELIVERIES = TurnCounter(NOTIFICATION_DELIVERIES.labels("websocket"))

REGISTRATION_TTL_SECONDS = 600.0
MAX_INTERNED_AUDIENCE_SETS = 10_000
REGISTRATION_WORKERS = 8
"""Registrations of WebSocket users in flight at once (``KnownUsers.tell_later``)."""
MAX_REMEMBERED_REGISTRATIONS = 100_000


class KnownUsers:
    """Tells the system a user connected (and their teams); remembers what it told recently, so
    a reconnecting user costs nothing.

    ``tell_later`` (a WebSocket's, which does not wait for it) queues the user instead of
    starting a task each: a task waiting for persistence is a few KB, and 10,000 sockets opening
    at once kept thousands of them (memory per idle connection); a few workers drain the queue.
    """

    def __init__(self, register: Register) -> None:
        self._register = register
        self._told: dict[str, tuple[tuple[str, ...] | None, float]] = {}
        self._queued: dict[str, list[str] | None] = {}
        self._workers: set[asyncio.Task[None]] = set()

    def tell_later(self, user_id: str, teams: list[str] | None) -> None:
        """``seen``, in the background, in order, at most ``REGISTRATION_WORKERS`` at once."""
        if self._fresh(user_id, teams):
            return
        self._queued[user_id] = teams
        if len(self._workers) < REGISTRATION_WORKERS:
            worker = asyncio.create_task(self._drain())
            self._workers.add(worker)
            worker.add_done_callback(self._workers.discard)

    async def _drain(self) -> None:
        while self._queued:
            user_id = next(iter(self._queued))
            teams = self._queued.pop(user_id)
            try:
                await self.seen(user_id, teams)
            except Exception:
                log.warning("could not register a connected user; broadcasts may miss them")

    def _fresh(self, user_id: str, teams: list[str] | None) -> bool:
        """Told recently, with these teams (None: whatever they were)."""
        told = self._told.get(user_id)
        if told is None or time.monotonic() - told[1] >= REGISTRATION_TTL_SECONDS:
            return False
        return teams is None or told[0] == tuple(sorted(set(teams)))

    async def seen(self, user_id: str, teams: list[str] | None) -> None:
        key = None if teams is None else tuple(sorted(set(teams)))
        told = self._told.get(user_id)
        now = time.monotonic()
        if self._fresh(user_id, teams):
            return
        await self._register(user_id, teams)
        if len(self._told) >= MAX_REMEMBERED_REGISTRATIONS:
            self._told.clear()
        self._told[user_id] = (key if key is not None else (told[0] if told else None), now)


class Subscriber(Protocol):
    def push(self, event: Entry | Unread) -> None:
        """A live event; must not wait."""

    def push_member(self, shared: AudienceEntry, user_id: str) -> None:
        """``push`` of a broadcast to an audience of ``user_id``'s (``shared.for_member``,
        made only if needed); must not wait."""

    def hold(self) -> None:
        """The bus disconnected: live events may be lost until ``resync``."""

    def resync(self) -> None:
        """Live events may have been lost; check the log."""


class _Socket:
    """A WebSocket's outbox: live frames only (its client resumes over SSE or the inbox)."""

    def __init__(self, deliver: Deliver) -> None:
        self._deliver = deliver

    def push(self, event: Entry | Unread) -> None:
        self._deliver(event.frame)
        if isinstance(event, Entry):
            _WEBSOCKET_DELIVERIES.add()

    def push_member(self, shared: AudienceEntry, user_id: str) -> None:
        self._deliver(shared.frame_for(user_id))
        _WEBSOCKET_DELIVERIES.add()

    def hold(self) -> None:
        pass

    def resync(self) -> None:
        pass

    def deliver(self, frame: str) -> None:
        """A frame for sockets only (a read mark of the user's, ``UserHub._on_room_read``)."""
        self._deliver(frame)


class _UserLock:
    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0
        """Holding or waiting for ``lock``."""


class UserHub:
    def __init__(
        self, bus: Bus, known: KnownUsers | None = None, audiences: Audiences | None = None
    ) -> None:
        """``audiences``: where a user's audiences are read (without it, ``all`` only)."""
        self._bus = bus
        self._known = known
        self._audiences_of = audiences
        self._audiences: dict[str, frozenset[str]] = {}
        """The audiences of each user with a subscription here (interned: most users' are the
        same few sets, and memory per idle connection counts)."""
        self._audience_sets: dict[frozenset[str], frozenset[str]] = {}
        self._members: dict[str, set[str]] = {}
        """Each audience's users with a subscription here."""
        self._audience_subscribers: dict[str, dict[Subscriber, str]] = {}
        """Each audience's members' subscribers here, with their user: what a broadcast walks,
        without looking each user up (at 10,000 members every look-up is a fetch from memory)."""
        self._audience_subscriptions: dict[str, Subscription] = {}
        self._subscribers: dict[str, list[Subscriber]] = {}
        """Each user's, in a list: a user has a few at most, and an empty set alone is 216
        bytes (memory per idle connection)."""
        self._sockets: dict[tuple[str, Deliver], _Socket] = {}
        self._subscriptions: dict[str, Subscription] = {}
        self._locks: dict[str, _UserLock] = {}
        """Serialises a user's subscribing and unsubscribing; kept only while someone holds or
        waits for it."""
        self._unread_versions: dict[str, int] = {}

    async def join(self, user_id: str, deliver: Deliver) -> None:
        """A WebSocket of ``user_id``: its outbox gets ``notification`` and ``unread`` frames."""
        socket = _Socket(deliver)
        self._sockets[(user_id, deliver)] = socket
        await self.attach(user_id, socket)
        if self._known is not None:
            self._known.tell_later(user_id, None)

    async def leave(self, user_id: str, deliver: Deliver) -> None:
        socket = self._sockets.pop((user_id, deliver), None)
        if socket is not None:
            await self.detach(user_id, socket)

    async def attach(self, user_id: str, subscriber: Subscriber) -> None:
        """From when this returns, ``subscriber`` gets every event of the user published later."""
        subscribers = self._subscribers.setdefault(user_id, [])
        if subscriber not in subscribers:
            subscribers.append(subscriber)
        async with self._serialized(user_id):
            if user_id not in self._subscriptions:
                self._subscriptions[user_id] = await self._bus.subscribe_inline(
                    subjects.notify_live(user_id), self._on_live
                )
                await self._join_audiences(user_id, await self._read_audiences(user_id))
            if subscriber in self._subscribers.get(user_id, ()):  # not detached meanwhile
                for audience in self._audiences.get(user_id, ()):
                    self._audience_subscribers.setdefault(audience, {})[subscriber] = user_id
        await self._bus.nc.flush()  # the server has the subscription: nothing can slip past

    async def detach(self, user_id: str, subscriber: Subscriber) -> None:
        subscribers = self._subscribers.get(user_id)
        if subscribers is None:
            return
        if subscriber in subscribers:
            subscribers.remove(subscriber)
        for audience in self._audiences.get(user_id, ()):
            self._forget(audience, subscriber)
        if subscribers:
            return
        del self._subscribers[user_id]
        self._unread_versions.pop(user_id, None)
        async with self._serialized(user_id):
            if user_id not in self._subscribers and user_id in self._subscriptions:
                await self._subscriptions.pop(user_id).unsubscribe()
                await self._leave_audiences(user_id)

    async def _read_audiences(self, user_id: str) -> frozenset[str]:
        """The user's audiences; ``all`` at least (every connected user is a member, and a new
        one is registered as such meanwhile)."""
        found = {ALL_AUDIENCE}
        if self._audiences_of is not None:
            try:
                found |= await self._audiences_of(user_id)
            except Exception:
                log.warning("a user's audiences are unknown; live team broadcasts may miss them")
        return frozenset(found)

    async def _join_audiences(self, user_id: str, audiences: frozenset[str]) -> None:
        if len(self._audience_sets) >= MAX_INTERNED_AUDIENCE_SETS:
            self._audience_sets.clear()  # those in use stay shared; new ones start again
        self._audiences[user_id] = self._audience_sets.setdefault(audiences, audiences)
        for audience in audiences:
            self._members.setdefault(audience, set()).add(user_id)
            if audience not in self._audience_subscriptions:
                self._audience_subscriptions[audience] = await self._bus.subscribe_inline(
                    subjects.notify_live_audience(audience), self._on_audience
                )

    def _forget(self, audience: str, subscriber: Subscriber) -> None:
        walked = self._audience_subscribers.get(audience)
        if walked is not None:
            walked.pop(subscriber, None)
            if not walked:
                del self._audience_subscribers[audience]

    async def _leave_audiences(self, user_id: str) -> None:
        for audience in self._audiences.pop(user_id, frozenset()):
            members = self._members.get(audience)
            if members is None:
                continue
            members.discard(user_id)
            if not members:
                del self._members[audience]
                subscription = self._audience_subscriptions.pop(audience, None)
                if subscription is not None:
                    await subscription.unsubscribe()

    def hold_all(self) -> None:
        """The bus disconnected: live events may be lost until it reconnects (``resync_all``)."""
        for subscribers in self._subscribers.values():
            for subscriber in subscribers:
                subscriber.hold()

    def resync_all(self) -> None:
        """After a bus reconnect live events may have been lost: every stream checks the log."""
        for subscribers in self._subscribers.values():
            for subscriber in subscribers:
                subscriber.resync()

    @contextlib.asynccontextmanager
    async def _serialized(self, user_id: str) -> AsyncIterator[None]:
        """The user's lock, dropped once nobody holds or waits for it."""
        entry = self._locks.get(user_id)
        if entry is None:
            entry = self._locks[user_id] = _UserLock()
        entry.users += 1
        try:
            async with entry.lock:
                yield
        finally:
            entry.users -= 1
            if not entry.users:
                del self._locks[user_id]

    def _on_live(self, msg: Msg) -> None:
        headers = msg.headers
        event = None if headers is None else headers.get(EVENT_HEADER)
        if event == UNREAD_EVENT:
            self._on_unread(msg)
        elif event == ROOM_READ_EVENT:
            self._on_room_read(msg)
        else:
            self._on_notification(msg)

    def _on_notification(self, msg: Msg) -> None:
        """An entry the stream stored, republished with its stream sequence (``Nats-Sequence``):
        its position, so its cursor (``at_position``)."""
        position = _stream_sequence(msg)
        if position is None:
            log.warning("ignoring a notification without its stream position on %s", msg.subject)
            return
        try:
            entry = Entry(at_position(Notification.decode(msg.data), position))
        except ValidationError:
            log.warning("ignoring an undecodable notification on %s", msg.subject)
            return
        for subscriber in tuple(self._subscribers.get(entry.notification.user_id, ())):
            subscriber.push(entry)

    def _on_audience(self, msg: Msg) -> None:
        """A broadcast the stream stored for an audience: decoded and encoded once, then each
        local member's connections get it."""
        position = _stream_sequence(msg)
        if position is None:
            log.warning("ignoring a broadcast without its stream position on %s", msg.subject)
            return
        try:
            notification = at_position(Notification.decode(msg.data), position)
        except ValidationError:
            log.warning("ignoring an undecodable broadcast on %s", msg.subject)
            return
        audience = notification.audience
        walked = self._audience_subscribers.get(audience) if audience is not None else None
        if not walked:
            return
        shared = AudienceEntry(notification)
        # Copies of the keys and values, not of the items: no tuple per member.
        for subscriber, user_id in zip(tuple(walked), tuple(walked.values()), strict=True):
            subscriber.push_member(shared, user_id)

    def _on_room_read(self, msg: Msg) -> None:
        """The user's read mark in a room moved (on any gateway): every socket of the user gets
        its own ``read`` frame, with the unread count (docs/protocol.md §2, "Read receipts")."""
        try:
            mark = ReadEvent.decode(msg.data).state
        except ValidationError:
            log.warning("ignoring an undecodable read mark on %s", msg.subject)
            return
        frame = read_frame(mark.room, mark.user_id, mark.seq, (mark.unread_count, mark.upto))
        for subscriber in tuple(self._subscribers.get(mark.user_id, ())):
            if isinstance(subscriber, _Socket):
                subscriber.deliver(frame)

    def _on_unread(self, msg: Msg) -> None:
        try:
            event = UnreadEvent.decode(msg.data)
        except ValidationError:
            log.warning("ignoring an undecodable unread event on %s", msg.subject)
            return
        if event.version <= self._unread_versions.get(event.user_id, 0):
            return  # an older change arriving late
        self._unread_versions[event.user_id] = event.version
        unread = Unread(event.unread_count, event.version)
        for subscriber in tuple(self._subscribers.get(event.user_id, ())):
            subscriber.push(unread)


def _stream_sequence(msg: Msg) -> int | None:
    """The republished message's stream sequence, None when it has no usable one."""
    raw = None if msg.headers is None else msg.headers.get(SEQUENCE_HEADER)
    if raw is None:
        return None
    try:
        sequence = int(raw)
    except ValueError:
        return None
    return sequence if sequence > 0 else None
