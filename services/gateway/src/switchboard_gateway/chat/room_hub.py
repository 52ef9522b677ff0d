"""Room fan-out on one gateway: one set of subscriptions per room with local members.

For each such room the gateway subscribes to its messages, typing events, presence snapshots
and read marks, and encodes each event into a frame once, whatever the number of members;
members only ever get ``offer``\\ ed the same text, a ``wire.SharedFrame`` whose WebSocket
frame bytes are built once too. Messages go out in ``seq`` order without gaps
(``RoomOrder``: a jump is filled from the room log first).

The hub owns joining: ``join`` registers the member, tells it the ``seq`` it joined at (the
``joined`` frame, before any live event after it), adds its presence (and sends it the room's
snapshot and who types) and, with ``since``, plans (``replay.plan_replay``) and runs its replay.
A resuming member's live messages are held back (``Member.held``, which only the hub touches)
until its replay is done; the seam is exact because the replay ends at the ``seq`` the room had
delivered when the member was registered. ``leave`` removes both membership and presence.
"""

import asyncio
import contextlib
import functools
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from nats.aio.msg import Msg
from pydantic import ValidationError
from switchboard_contracts import ChatMessage, subjects
from switchboard_contracts.presence import PresenceReply, PresenceSnapshot, TypingEvent
from switchboard_contracts.reads import ReadEvent
from switchboard_protocol import CloseCode
from switchboard_protocol.times import now_ms
from switchboard_runtime import UnavailableError

from switchboard_gateway.chat import frames
from switchboard_gateway.chat.ordering import Deliver, Drop, FillGap, RoomOrder, Verdict
from switchboard_gateway.chat.presence import LocalPresence
from switchboard_gateway.chat.replay import NothingMissed, Replay, plan_replay
from switchboard_gateway.chat.seq_search import Position
from switchboard_gateway.chat.typing_indicators import TypingBoard
from switchboard_gateway.metrics import REPLAYS
from switchboard_gateway.transport.outbox import Outgoing
from switchboard_gateway.transport.recipients import Recipients
from switchboard_gateway.transport.wire import SharedFrame, TimedFrame

__all__ = [
    "Member",
    "PresenceSource",
    "PresenceWriter",
    "RoomBus",
    "RoomHub",
    "RoomReader",
    "RoomUnavailableError",
]

log = logging.getLogger(__name__)

TYPING_SWEEP_SECONDS = 0.5


class RoomUnavailableError(UnavailableError):
    """The room could not be opened on this gateway (NATS or the room log did not answer)."""


class _Subscription(Protocol):
    async def unsubscribe(self) -> None: ...


class _Flushes(Protocol):
    async def flush(self) -> None: ...


class RoomBus(Protocol):
    """What the hub needs of the bus (``switchboard_runtime.Bus``)."""

    async def subscribe(
        self, subject: str, cb: Callable[[Msg], Awaitable[None]], queue: str = ""
    ) -> _Subscription: ...

    async def subscribe_inline(
        self, subject: str, handler: Callable[[Msg], None], queue: str = ""
    ) -> _Subscription: ...

    async def publish(
        self, subject: str, payload: bytes, headers: Mapping[str, str] | None = None
    ) -> None: ...

    @property
    def nc(self) -> _Flushes: ...


class RoomReader(Protocol):
    """What the hub needs of the room log (``room_log.RoomLog``)."""

    async def head(self, room: str) -> int: ...

    async def read(
        self, room: str, first: int, last: int, after: Position | None = None
    ) -> list[ChatMessage] | None: ...


class PresenceSource(Protocol):
    """Chat's presence snapshots (``chat.client.ChatClient``)."""

    async def presence(self, room: str, min_revision: int = 0) -> PresenceReply: ...


class PresenceWriter(Protocol):
    """Writes this gateway's presence entries (``presence_sync.PresenceSync``)."""

    async def sync(self, room: str, user_id: str) -> int | None: ...


@dataclass(eq=False, slots=True)
class Member:
    """One connection's membership in one room (slotted: a room's fan-out reads two of its
    fields per member per message)."""

    connection: str
    user_id: str
    outbox: Outgoing
    held: list[tuple[int, str]] | None = field(default=None, init=False)
    """Live messages (seq, frame) held back while the member's replay runs; None when live.
    The hub's alone: set by ``RoomHub.join``, released when the replay is done."""
    saw_presence: bool = field(default=False, init=False)


@dataclass(eq=False)
class _Room:
    name: str
    members: dict[str, Member] = field(default_factory=dict)
    subscriptions: list[_Subscription] = field(default_factory=list)
    order: RoomOrder | None = None
    position: Position | None = None
    """Where the last message delivered live is in the stream, when known."""
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    failed: bool = False
    presence_revision: int = -1
    """The newest snapshot revision pushed to the room's members."""
    latest_revision: int = -1
    latest_text: str | None = None
    """The newest snapshot known, pushed or fetched for a new member."""
    backlog: deque[tuple[Msg, ChatMessage | None]] | None = None
    """Live messages waiting, in order, behind one that needs a gap filled first (or that came
    before the room was ready), each with its decoded form when it was decoded on arrival; None
    while every message is handled as it is read."""
    _live: tuple[Recipients, tuple[Member, ...]] | None = field(
        default=None, init=False, repr=False
    )
    """``live()``'s answer while the members and their ``held`` stay the same."""

    def add(self, member: Member) -> None:
        self.members[member.connection] = member
        self._live = None

    def discard(self, member: Member) -> None:
        self.members.pop(member.connection, None)
        self._live = None

    def released(self) -> None:
        """A member's held messages were released: it is live from now on."""
        self._live = None

    def live(self) -> tuple[Recipients, tuple[Member, ...]]:
        """The outboxes of the members a live message goes to, and the members resuming (whose
        ``held`` it joins)."""
        if self._live is None:
            members = self.members.values()
            self._live = (
                Recipients(m.outbox for m in members if m.held is None),
                tuple(m for m in members if m.held is not None),
            )
        return self._live


class RoomHub:
    def __init__(
        self,
        bus: RoomBus,
        room_log: RoomReader,
        chat: PresenceSource,
        typing_timeout: float,
        *,
        presence: LocalPresence,
        presence_sync: PresenceWriter,
        resume_max_messages: int,
    ) -> None:
        self._bus = bus
        self._log = room_log
        self._chat = chat
        self._presence = presence
        self._presence_sync = presence_sync
        self._resume_max = resume_max_messages
        self._rooms: dict[str, _Room] = {}
        self._typing = TypingBoard(typing_timeout)
        self._sweeper: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[Any]] = set()

    def member_count(self) -> int:
        return sum(len(room.members) for room in self._rooms.values())

    def start(self) -> None:
        self._sweeper = asyncio.create_task(self._sweep_typing())

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper

    async def join(self, room: str, member: Member, since: int | None = None) -> int:
        """Make ``member`` a member of ``room``, present in it; with ``since`` (the last ``seq``
        it saw), replay what it missed first, then what arrived meanwhile, then live. Returns
        the last ``seq`` the room had delivered when the member was registered.

        Raises ``RoomUnavailableError`` when the room cannot be opened here (the member is
        not registered then)."""
        member.held = None if since is None else []
        try:
            upto = await self._register(room, member)
        except RoomUnavailableError:
            raise
        except Exception as err:
            raise RoomUnavailableError(str(err)) from err
        # No await since the registration: every live event after ``upto`` follows this frame,
        # so a member that sees nothing else before its connection drops resumes from ``upto``.
        member.outbox.offer(frames.joined_frame(room, upto))
        self._presence.add(room, member.user_id, member.connection, now_ms())
        revision = await self._presence_sync.sync(room, member.user_id)
        await self._ensure_presence(room, member, revision)
        self._send_typing_state(room, member)
        if since is not None:
            await self._replay(room, member, since, upto)
        return upto

    async def leave(self, room: str, member: Member) -> None:
        """``member`` leaves ``room``: no more frames of it, and its presence there ends."""
        state = self._rooms.get(room)
        if state is not None:
            state.discard(member)
            if not state.members and state.ready.is_set():
                await self._close(state)
        self._presence.remove(room, member.user_id, member.connection)
        self._spawn(self._presence_sync.sync(room, member.user_id))

    def presence_changed(self, room: str, user_id: str) -> None:
        """A member's presence metadata changed: write the user's entry (in the background)."""
        self._spawn(self._presence_sync.sync(room, user_id))

    async def publish_typing(self, room: str, user_id: str, is_typing: bool) -> None:
        """Tell every gateway with members in ``room`` (this one too) about a typing change."""
        event = TypingEvent(room=room, user_id=user_id, is_typing=is_typing)
        try:
            await self._bus.publish(subjects.chat_typing(room), event.encode())
        except Exception:
            log.warning("publishing a typing event failed")

    async def _register(self, room: str, member: Member) -> int:
        """Add ``member`` to ``room``'s members; the last ``seq`` the room delivered before it."""
        while True:
            state = self._rooms.get(room)
            if state is None:
                state = self._rooms[room] = _Room(room)
                state.add(member)
                await self._open(state)
            else:
                state.add(member)
                await state.ready.wait()
            if state.failed or state.order is None:
                state.discard(member)
                raise RoomUnavailableError(f"room {room} is unavailable on this gateway; retry")
            if self._rooms.get(room) is state:
                return state.order.last
            state.discard(member)  # closed meanwhile: open it again

    async def _replay(self, room: str, member: Member, since: int, upto: int) -> None:
        """Send what the member missed up to ``upto``, then ``replay``, then what was held."""
        plan = plan_replay(since, upto, self._resume_max)
        recovered = isinstance(plan, NothingMissed)
        if isinstance(plan, Replay):
            try:
                missed = await self._log.read(room, plan.first, plan.last)
            except Exception:
                log.exception("reading seq %d-%d for a resume failed", plan.first, plan.last)
                missed = None
            if missed is not None:
                for message in missed:
                    await member.outbox.send(frames.chat_frame(message))
                recovered = True
        REPLAYS.labels("chat", "recovered" if recovered else "not_recovered").inc()
        member.outbox.offer(frames.replay_frame(room, recovered))
        self._finish_replay(room, member, upto)

    def _finish_replay(self, room: str, member: Member, upto: int) -> None:
        """The member's replay ended at ``upto``: what was held after it goes out, then live."""
        held, member.held = member.held or [], None
        state = self._rooms.get(room)
        if state is not None:
            state.released()
        for seq, text in held:
            if seq > upto:
                member.outbox.offer(text)

    async def _ensure_presence(self, room: str, member: Member, min_revision: int | None) -> None:
        """Make sure a new member gets the room's presence, including itself once written."""
        state = self._rooms.get(room)
        if state is None:
            return
        wanted = min_revision or 0
        if state.latest_text is None or state.latest_revision < wanted:
            reply = await self._chat.presence(room, wanted)
            snapshot = reply.snapshot
            if snapshot is not None and snapshot.revision > state.latest_revision:
                # Only for the newcomer: the others get chat's coalesced push of this change.
                state.latest_revision = snapshot.revision
                state.latest_text = SharedFrame(frames.presence_frame(snapshot))
        if not member.saw_presence and state.latest_text is not None:
            member.saw_presence = True
            member.outbox.offer(state.latest_text)

    def _send_typing_state(self, room: str, member: Member) -> None:
        """Tell a new member who is typing right now."""
        for user_id in self._typing.typing_in(room):
            if user_id != member.user_id:
                member.outbox.offer(frames.typing_frame(room, user_id, True))

    def _spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        """Run work that must finish even after its member left."""
        task = asyncio.create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _open(self, state: _Room) -> None:
        room = state.name
        try:
            state.subscriptions.append(
                await self._bus.subscribe_inline(
                    subjects.chat_live(room), functools.partial(self._on_chat, state)
                )
            )
            for subject, handler in (
                (subjects.chat_typing(room), self._on_typing),
                (subjects.chat_presence(room), self._on_presence),
                (subjects.chat_read(room), self._on_read),
            ):
                state.subscriptions.append(
                    await self._bus.subscribe(subject, functools.partial(handler, state))
                )
            await self._bus.nc.flush()
            state.order = RoomOrder(await self._log.head(room))
        except Exception:
            log.exception("opening room %s failed", room)
            state.failed = True
            await self._close(state)
        finally:
            state.ready.set()

    async def _close(self, state: _Room) -> None:
        if self._rooms.get(state.name) is state:
            del self._rooms[state.name]
        self._typing.forget(state.name)
        for subscription in state.subscriptions:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()
        state.subscriptions.clear()

    def _on_chat(self, state: _Room, msg: Msg) -> None:
        """A room's live message, handled as nats-py reads it (``subscribe_inline``): no queue
        and task switch per message. One that needs a gap filled first, and every later one,
        waits in the room's backlog for a task that handles them in order."""
        decoded = None
        if state.backlog is None and state.ready.is_set():
            verdict = self._offer(state, msg)
            if verdict is None or isinstance(verdict[1], Drop):
                return
            decoded, order = verdict
            if isinstance(order, Deliver):
                self._deliver_live(state, decoded, msg)
                return
        if state.backlog is None:
            state.backlog = deque([(msg, decoded)])
            self._spawn(self._drain_backlog(state))
        else:
            state.backlog.append((msg, decoded))

    async def _drain_backlog(self, state: _Room) -> None:
        assert state.backlog is not None
        try:
            await state.ready.wait()
            while state.backlog:
                msg, decoded = state.backlog.popleft()
                verdict = self._offer(state, msg, decoded)
                if verdict is None or isinstance(verdict[1], Drop):
                    continue
                message, order = verdict
                if isinstance(order, FillGap):
                    await self._fill(state, order)
                self._deliver_live(state, message, msg)
        finally:
            state.backlog = None

    def _offer(
        self, state: _Room, msg: Msg, message: ChatMessage | None = None
    ) -> tuple[ChatMessage, Verdict] | None:
        """The message (``message``, when already decoded from ``msg``) and what the room's
        order says of it; None when the room is closed (or failed) or the message undecodable."""
        if state.order is None or self._rooms.get(state.name) is not state:
            return None
        if message is None:
            try:
                message = ChatMessage.decode(msg.data)
            except ValidationError:
                log.warning("ignoring an undecodable message on %s", msg.subject)
                return None
        return message, state.order.offer(message.seq)

    def _deliver_live(self, state: _Room, message: ChatMessage, msg: Msg) -> None:
        self._deliver(state, message)
        stream_seq = (msg.headers or {}).get("Nats-Sequence", "")
        if stream_seq.isdigit():
            state.position = Position(message.seq, int(stream_seq))

    async def _fill(self, state: _Room, gap: FillGap) -> None:
        known = state.position
        after = known if known is not None and known.seq == gap.first - 1 else None
        try:
            missing = await self._log.read(state.name, gap.first, gap.last, after=after)
        except Exception:
            log.exception("filling seq %d-%d of a room failed", gap.first, gap.last)
            missing = None
        if missing is None:
            log.warning("seq %d-%d of room %s could not be filled", gap.first, gap.last, state.name)
            return
        for message in missing:
            self._deliver(state, message)

    def _deliver(self, state: _Room, message: ChatMessage) -> None:
        assert state.order is not None
        if message.seq <= state.order.last:
            return
        state.order.delivered(message.seq)
        # encoded once, whatever the number of members; timed from chat's acceptance
        text = TimedFrame(frames.chat_frame(message), message.timestamp / 1000)
        recipients, resuming = state.live()
        for member in resuming:
            if member.held is None:  # released on another state of the room: live now
                member.outbox.offer(text)
            elif len(member.held) < member.outbox.max_frames:
                member.held.append((message.seq, text))
            else:
                member.outbox.close(CloseCode.TRY_AGAIN_LATER, "too slow: resume with since")
        recipients.offer(text)

    async def _on_typing(self, state: _Room, msg: Msg) -> None:
        try:
            event = TypingEvent.decode(msg.data)
        except ValidationError:
            return
        loop = asyncio.get_running_loop()
        if event.room == state.name and self._typing.apply(
            event.room, event.user_id, event.is_typing, loop.time()
        ):
            self._tell_typing(state, event.user_id, event.is_typing)

    def _tell_typing(self, state: _Room, user_id: str, is_typing: bool) -> None:
        text = SharedFrame(frames.typing_frame(state.name, user_id, is_typing))
        for member in tuple(state.members.values()):
            if member.user_id != user_id:
                member.outbox.offer(text)

    async def _sweep_typing(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(TYPING_SWEEP_SECONDS)
            for room, user_id in self._typing.expire(loop.time()):
                state = self._rooms.get(room)
                if state is not None:
                    self._tell_typing(state, user_id, False)

    async def _on_read(self, state: _Room, msg: Msg) -> None:
        """A member's read mark moved (coalesced by its gateway): the room's other users are
        told; the user's own connections hear it on their user subject (``UserHub``)."""
        try:
            mark = ReadEvent.decode(msg.data).state
        except ValidationError:
            return
        if mark.room != state.name:
            return
        text = SharedFrame(frames.read_frame(state.name, mark.user_id, mark.seq))
        for member in tuple(state.members.values()):
            if member.user_id != mark.user_id:
                member.outbox.offer(text)

    async def _on_presence(self, state: _Room, msg: Msg) -> None:
        try:
            snapshot = PresenceSnapshot.decode(msg.data)
        except ValidationError:
            return
        if snapshot.room == state.name:
            self._apply_presence(state, snapshot)

    def _apply_presence(self, state: _Room, snapshot: PresenceSnapshot) -> None:
        if snapshot.revision <= state.presence_revision:
            return
        state.presence_revision = snapshot.revision
        text = SharedFrame(frames.presence_frame(snapshot))  # encoded once, framed once
        if snapshot.revision >= state.latest_revision:
            state.latest_revision, state.latest_text = snapshot.revision, text
        for member in tuple(state.members.values()):
            member.saw_presence = True
            member.outbox.offer(text)
