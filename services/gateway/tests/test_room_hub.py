"""The room hub, without sockets or NATS: fakes of the bus, the room log, chat's presence and the
presence writer, and outboxes that record what they were given."""

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, cast

import pytest
from nats.aio.msg import Msg
from switchboard_contracts import ChatMessage, subjects
from switchboard_contracts.presence import (
    PresenceReply,
    PresenceSnapshot,
    PresenceUser,
    TypingEvent,
)
from switchboard_contracts.reads import ReadEvent, ReadState
from switchboard_gateway.chat.presence import LocalPresence
from switchboard_gateway.chat.room_hub import Member, RoomHub, RoomUnavailableError
from switchboard_gateway.chat.seq_search import Position
from switchboard_protocol import CloseCode
from switchboard_runtime.patches.light_event import LightEvent

ROOM = "lobby"


class RecordingOutbox:
    """An ``Outgoing`` that keeps every frame it is given."""

    def __init__(self, max_frames: int = 1000) -> None:
        self.max_frames = max_frames
        self.closed = LightEvent()
        self.close_code: int | None = None
        self.on_close: Callable[[], None] | None = None
        self.frames: list[str] = []

    @property
    def pending(self) -> int:
        return 0

    def start(self) -> None:
        pass

    def offer(self, text: str) -> None:
        if not self.closed.is_set():
            self.frames.append(text)

    async def send(self, text: str) -> None:
        self.offer(text)
        await asyncio.sleep(0)  # as a real send may: live messages arrive meanwhile

    def close(self, code: int, reason: str = "") -> None:
        if not self.closed.is_set():
            self.closed.set()
            self.close_code = code

    async def stop(self) -> None:
        self.closed.set()

    def decoded(self) -> list[dict[str, Any]]:
        return [json.loads(text) for text in self.frames]

    def chat_seqs(self) -> list[int]:
        return [frame["seq"] for frame in self.decoded() if frame["type"] == "chat"]

    def kinds(self) -> list[str]:
        return [
            f"chat {frame['seq']}" if frame["type"] == "chat" else frame["type"]
            for frame in self.decoded()
        ]


class FakeSubscription:
    def __init__(self, bus: "FakeBus", subject: str) -> None:
        self._bus = bus
        self._subject = subject

    async def unsubscribe(self) -> None:
        self._bus.handlers.pop(self._subject, None)
        self._bus.inline.pop(self._subject, None)


class FakeBus:
    def __init__(self) -> None:
        self.handlers: dict[str, Callable[[Msg], Awaitable[None]]] = {}
        self.inline: dict[str, Callable[[Msg], None]] = {}
        self.published: list[tuple[str, bytes]] = []
        self.nc = self

    async def subscribe(
        self, subject: str, cb: Callable[[Msg], Awaitable[None]], queue: str = ""
    ) -> FakeSubscription:
        self.handlers[subject] = cb
        return FakeSubscription(self, subject)

    async def subscribe_inline(
        self, subject: str, handler: Callable[[Msg], None], queue: str = ""
    ) -> FakeSubscription:
        self.inline[subject] = handler
        return FakeSubscription(self, subject)

    async def publish(
        self, subject: str, payload: bytes, headers: Mapping[str, str] | None = None
    ) -> None:
        self.published.append((subject, payload))

    async def flush(self) -> None:
        pass

    async def deliver(
        self, subject: str, data: bytes, headers: dict[str, str] | None = None
    ) -> None:
        msg = Msg(cast(Any, None), subject=subject, data=data, headers=headers)
        inline = self.inline.get(subject)
        if inline is None:
            await self.handlers[subject](msg)
            return
        inline(msg)  # as nats-py's read loop calls it
        await settle()  # a message behind a gap is handled on a task of the hub's: let it run

    async def chat(self, message: ChatMessage) -> None:
        await self.deliver(subjects.chat_live(message.room), message.encode())


class FakeRoomLog:
    """The room's messages; reads wait for ``gate`` when one is set."""

    def __init__(self, last: int = 0) -> None:
        self.messages = {seq: message(seq) for seq in range(1, last + 1)}
        self.gate: asyncio.Event | None = None
        self.failing = False
        self.reads: list[tuple[int, int]] = []

    def add(self, seq: int) -> ChatMessage:
        self.messages[seq] = message(seq)
        return self.messages[seq]

    async def head(self, room: str) -> int:
        if self.failing:
            raise ConnectionError("the log did not answer")
        return max(self.messages, default=0)

    async def read(
        self, room: str, first: int, last: int, after: Position | None = None
    ) -> list[ChatMessage] | None:
        self.reads.append((first, last))
        if self.gate is not None:
            await self.gate.wait()
        wanted = [self.messages.get(seq) for seq in range(first, last + 1)]
        if any(found is None for found in wanted):
            return None
        return [found for found in wanted if found is not None]


class FakeChat:
    """Chat's presence answers; they wait for ``gate`` when one is set (chat catching up)."""

    def __init__(self) -> None:
        self.asked: list[int] = []
        self.gate: asyncio.Event | None = None

    async def presence(self, room: str, min_revision: int = 0) -> PresenceReply:
        self.asked.append(min_revision)
        if self.gate is not None:
            await self.gate.wait()
        return PresenceReply(snapshot=snapshot(min_revision, ["al", "bo"]))


class FakePresenceSync:
    def __init__(self, local: LocalPresence) -> None:
        self._local = local
        self.revision = 0
        self.written: list[tuple[str, str, bool]] = []

    async def sync(self, room: str, user_id: str) -> int | None:
        present = self._local.entry(room, user_id) is not None
        self.written.append((room, user_id, present))
        self.revision += 1
        return self.revision if present else None


def message(seq: int) -> ChatMessage:
    return ChatMessage(
        id=f"id-{seq}",
        room=ROOM,
        seq=seq,
        sender_id="al",
        content=f"m{seq}",
        timestamp=1_700_000_000_000 + seq,
    )


def snapshot(revision: int, users: list[str]) -> PresenceSnapshot:
    return PresenceSnapshot(
        room=ROOM,
        revision=revision,
        count=len(users),
        users=[PresenceUser(user_id=user, connected_at=1) for user in users],
    )


class World:
    def __init__(self, last: int = 0, resume_max_messages: int = 1000) -> None:
        self.bus = FakeBus()
        self.log = FakeRoomLog(last)
        self.chat = FakeChat()
        self.presence = LocalPresence("gw")
        self.presence_sync = FakePresenceSync(self.presence)
        self.hub = RoomHub(
            self.bus,
            self.log,
            self.chat,
            typing_timeout=5.0,
            presence=self.presence,
            presence_sync=self.presence_sync,
            resume_max_messages=resume_max_messages,
        )

    def member(self, user: str, max_frames: int = 1000) -> tuple[Member, RecordingOutbox]:
        outbox = RecordingOutbox(max_frames)
        return Member(f"{user}-{len(self.presence.keys())}", user, outbox), outbox

    async def joined(self, user: str, since: int | None = None) -> tuple[Member, RecordingOutbox]:
        member, outbox = self.member(user)
        await self.hub.join(ROOM, member, since)
        return member, outbox


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


# joining and leaving


async def test_a_new_member_is_present_and_gets_the_rooms_presence_including_itself() -> None:
    world = World()
    _, outbox = await world.joined("al")
    assert world.presence.entry(ROOM, "al") is not None
    assert world.presence_sync.written == [(ROOM, "al", True)]
    assert world.chat.asked == [1]  # the revision of its own write
    assert outbox.kinds() == ["joined", "presence"]
    assert outbox.decoded()[0]["payload"] == {"room": ROOM, "seq": 0}
    assert world.hub.member_count() == 1


async def test_a_joiner_is_told_the_seq_it_joined_at_before_any_live_event_after_it() -> None:
    """Live events go out while the join still waits (for chat's presence, here): the
    ``joined`` frame comes first, so a client that sees nothing else before its connection
    drops resumes from there and misses nothing."""
    world = World(last=5)
    world.chat.gate = asyncio.Event()
    member, outbox = world.member("al")
    joining = asyncio.create_task(world.hub.join(ROOM, member))
    await settle()
    await world.bus.chat(world.log.add(6))
    assert outbox.kinds() == ["joined", "chat 6"]
    assert outbox.decoded()[0]["payload"] == {"room": ROOM, "seq": 5}
    world.chat.gate.set()
    assert await joining == 5
    assert outbox.kinds() == ["joined", "chat 6", "presence"]


async def test_the_first_member_opens_the_room_and_the_last_one_closes_it() -> None:
    world = World()
    al, _ = await world.joined("al")
    bo, _ = await world.joined("bo")
    assert set(world.bus.inline) == {subjects.chat_live(ROOM)}  # read on the read loop
    assert set(world.bus.handlers) == {
        subjects.chat_typing(ROOM),
        subjects.chat_presence(ROOM),
        subjects.chat_read(ROOM),
    }
    await world.hub.leave(ROOM, al)
    assert world.bus.handlers
    await world.hub.leave(ROOM, bo)
    assert world.bus.handlers == {}
    assert world.bus.inline == {}
    assert world.hub.member_count() == 0


async def test_leaving_removes_the_members_presence() -> None:
    world = World()
    al, _ = await world.joined("al")
    await world.hub.leave(ROOM, al)
    await settle()
    assert world.presence.entry(ROOM, "al") is None
    assert world.presence_sync.written[-1] == (ROOM, "al", False)


async def test_a_room_that_cannot_be_opened_is_unavailable_and_keeps_no_member() -> None:
    world = World()
    world.log.failing = True
    member, outbox = world.member("al")
    with pytest.raises(RoomUnavailableError):
        await world.hub.join(ROOM, member)
    assert world.hub.member_count() == 0
    assert world.presence.entry(ROOM, "al") is None
    assert outbox.frames == []
    assert world.bus.handlers == {}


# fan-out


async def test_a_message_is_encoded_once_and_offered_to_every_member_in_order() -> None:
    world = World(last=3)
    _, al = await world.joined("al")
    _, bo = await world.joined("bo")
    for seq in (4, 5):
        await world.bus.chat(world.log.add(seq))
    assert al.chat_seqs() == bo.chat_seqs() == [4, 5]
    assert al.frames[-1] is bo.frames[-1]


async def test_each_message_goes_to_the_members_of_the_moment_it_is_delivered() -> None:
    # The room keeps its recipients between messages: a join or a leave must change them.
    world = World(last=3)
    al_member, al = await world.joined("al")
    await world.bus.chat(world.log.add(4))
    _, bo = await world.joined("bo")
    await world.bus.chat(world.log.add(5))
    await world.hub.leave(ROOM, al_member)
    await world.bus.chat(world.log.add(6))
    assert al.chat_seqs() == [4, 5]
    assert bo.chat_seqs() == [5, 6]


async def test_a_message_seen_already_is_dropped_and_a_gap_is_filled_from_the_log() -> None:
    world = World(last=3)
    _, al = await world.joined("al")
    await world.bus.chat(world.log.messages[3])
    world.log.add(4)
    world.log.add(5)
    await world.bus.chat(world.log.add(6))
    assert al.chat_seqs() == [4, 5, 6]
    assert world.log.reads == [(4, 5)]


async def test_messages_arriving_while_a_gap_is_filled_wait_behind_it_in_order() -> None:
    world = World(last=3)
    _, al = await world.joined("al")
    world.log.add(4)
    world.log.gate = asyncio.Event()
    await world.bus.chat(world.log.add(5))  # 4 is missing: the fill waits for the gate
    for seq in (6, 7):
        await world.bus.chat(world.log.add(seq))
    assert al.chat_seqs() == []
    world.log.gate.set()
    await settle()
    assert al.chat_seqs() == [4, 5, 6, 7]
    await world.bus.chat(world.log.add(8))  # handled as it is read again
    assert al.chat_seqs() == [4, 5, 6, 7, 8]


async def test_an_undecodable_message_is_ignored() -> None:
    world = World()
    _, al = await world.joined("al")
    await world.bus.deliver(subjects.chat_live(ROOM), b"{not json")
    assert al.chat_seqs() == []


async def test_typing_reaches_the_other_members_only_and_a_joiner_learns_who_types() -> None:
    world = World()
    _, al = await world.joined("al")
    _, bo = await world.joined("bo")
    event = TypingEvent(room=ROOM, user_id="al", is_typing=True)
    await world.bus.deliver(subjects.chat_typing(ROOM), event.encode())
    assert "typing" not in al.kinds()
    assert bo.decoded()[-1]["payload"] == {"userId": "al", "isTyping": True}
    _, cy = await world.joined("cy")
    assert cy.decoded()[-1]["payload"] == {"userId": "al", "isTyping": True}


async def test_a_read_mark_reaches_the_other_users_without_the_unread_count() -> None:
    world = World()
    _, al = await world.joined("al")
    _, bo = await world.joined("bo")
    state = ReadState(room=ROOM, user_id="al", seq=4, unread_count=1, upto=5)
    await world.bus.deliver(subjects.chat_read(ROOM), ReadEvent(state=state).encode())
    assert "read" not in al.kinds()  # the user's own hear it on their user subject
    assert bo.decoded()[-1]["type"] == "read"
    assert bo.decoded()[-1]["payload"] == {"userId": "al", "seq": 4}


async def test_an_undecodable_read_mark_is_ignored() -> None:
    world = World()
    _, bo = await world.joined("bo")
    await world.bus.deliver(subjects.chat_read(ROOM), b'{"state": {"room": "x y"}}')
    assert "read" not in bo.kinds()


async def test_presence_snapshots_reach_every_member_newest_only() -> None:
    world = World()
    _, al = await world.joined("al")
    _, bo = await world.joined("bo")
    before = (len(al.frames), len(bo.frames))
    await world.bus.deliver(subjects.chat_presence(ROOM), snapshot(10, ["al", "bo"]).encode())
    await world.bus.deliver(subjects.chat_presence(ROOM), snapshot(9, ["al"]).encode())
    assert (len(al.frames), len(bo.frames)) == (before[0] + 1, before[1] + 1)
    assert al.decoded()[-1]["payload"]["count"] == 2


async def test_a_typing_change_is_published_for_every_gateway() -> None:
    world = World()
    await world.hub.publish_typing(ROOM, "al", True)
    subject, payload = world.bus.published[0]
    assert subject == subjects.chat_typing(ROOM)
    assert TypingEvent.decode(payload) == TypingEvent(room=ROOM, user_id="al", is_typing=True)


async def test_a_presence_change_is_written() -> None:
    world = World()
    await world.joined("al")
    world.hub.presence_changed(ROOM, "al")
    await settle()
    assert len(world.presence_sync.written) == 2


# replay


async def test_a_resume_replays_what_was_missed_then_what_arrived_meanwhile_then_live() -> None:
    world = World(last=5)
    _, watcher = await world.joined("bo")
    world.log.gate = asyncio.Event()
    member, outbox = world.member("al")
    joining = asyncio.create_task(world.hub.join(ROOM, member, since=2))
    await settle()
    assert world.log.reads == [(3, 5)]
    for seq in (6, 7):  # live while the replay is read
        await world.bus.chat(world.log.add(seq))
    assert watcher.chat_seqs() == [6, 7]
    assert outbox.chat_seqs() == []
    world.log.gate.set()
    await joining
    await world.bus.chat(world.log.add(8))
    assert outbox.kinds() == [
        "joined",
        "presence",
        "chat 3",
        "chat 4",
        "chat 5",
        "replay",
        "chat 6",
        "chat 7",
        "chat 8",
    ]
    assert outbox.decoded()[0]["payload"] == {"room": ROOM, "seq": 5}
    assert outbox.decoded()[5]["payload"] == {"room": ROOM, "recovered": True}
    assert member.held is None


async def test_messages_arriving_between_replayed_ones_are_neither_lost_nor_doubled() -> None:
    world = World(last=4)
    member, outbox = world.member("al")
    joining = asyncio.create_task(world.hub.join(ROOM, member, since=0))
    for _ in range(20):  # each replayed send lets live messages in
        await asyncio.sleep(0)
        seq = max(world.log.messages) + 1
        await world.bus.chat(world.log.add(seq))
    await joining
    assert outbox.chat_seqs() == list(range(1, max(world.log.messages) + 1))


async def test_nothing_missed_is_recovered_at_once() -> None:
    world = World(last=5)
    _, outbox = await world.joined("al", since=5)
    assert outbox.kinds() == ["joined", "presence", "replay"]
    assert outbox.decoded()[-1]["payload"]["recovered"] is True
    assert world.log.reads == []


@pytest.mark.parametrize(
    ("since", "resume_max"),
    [(9, 1000), (0, 3)],
    ids=["since beyond the room", "too many missed"],
)
async def test_a_gap_that_cannot_be_replayed_is_not_recovered(since: int, resume_max: int) -> None:
    world = World(last=5, resume_max_messages=resume_max)
    member, outbox = await world.joined("al", since=since)
    assert outbox.kinds() == ["joined", "presence", "replay"]
    assert outbox.decoded()[-1]["payload"]["recovered"] is False
    await world.bus.chat(world.log.add(6))
    assert outbox.chat_seqs() == [6]
    assert member.held is None


async def test_a_missed_message_that_cannot_be_read_is_not_recovered_and_live_goes_on() -> None:
    world = World(last=5)
    del world.log.messages[4]
    world.log.gate = asyncio.Event()
    member, outbox = world.member("al")
    joining = asyncio.create_task(world.hub.join(ROOM, member, since=2))
    await settle()
    await world.bus.chat(world.log.add(6))
    world.log.gate.set()
    await joining
    assert outbox.kinds() == ["joined", "presence", "replay", "chat 6"]
    assert outbox.decoded()[2]["payload"]["recovered"] is False


async def test_a_member_holding_more_than_its_outbox_takes_is_closed_to_resume_later() -> None:
    world = World(last=5)
    world.log.gate = asyncio.Event()
    outbox = RecordingOutbox(max_frames=2)
    member = Member("al-1", "al", outbox)
    joining = asyncio.create_task(world.hub.join(ROOM, member, since=4))
    await settle()
    for seq in (6, 7, 8):
        await world.bus.chat(world.log.add(seq))
    assert outbox.close_code == CloseCode.TRY_AGAIN_LATER
    world.log.gate.set()
    await joining
