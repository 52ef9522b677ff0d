"""Reading rooms back from a real JetStream: ranges and pages found among interleaved rooms."""

import secrets
from collections.abc import AsyncIterator

import pytest
from switchboard_contracts import (
    ChatMessage,
    HistoryReply,
    HistoryRequest,
    endpoints,
    streams,
    subjects,
)
from switchboard_devstack.stores import Stores
from switchboard_gateway.chat.client import ChatClient
from switchboard_gateway.chat.room_log import RoomLog, RoomLogError
from switchboard_gateway.chat.seq_search import Position
from switchboard_gateway.settings import GatewaySettings
from switchboard_runtime import Bus, ensure_stream

pytestmark = pytest.mark.component


@pytest.fixture
async def bus(stores: Stores) -> AsyncIterator[Bus]:
    bus = Bus(GatewaySettings(nats_url=stores.nats_url), name="room-log-test")
    await bus.connect()
    await ensure_stream(bus.js, streams.CHAT)
    yield bus
    await bus.close()


@pytest.fixture
def room_log(bus: Bus) -> RoomLog:
    return RoomLog(bus, ChatClient(bus, timeout=0.5), timeout=2.0)


async def store(bus: Bus, room: str, seq: int) -> int:
    message = ChatMessage(
        id=f"{room}-{seq}", room=room, seq=seq, sender_id="a", content=f"m{seq}", timestamp=seq
    )
    ack = await bus.js.publish(subjects.chat_room(room), message.encode())
    return int(ack.seq)


async def interleaved(bus: Bus, rooms: list[str], count: int) -> dict[str, dict[int, int]]:
    """``count`` messages in each room, interleaved; room -> seq -> stream sequence."""
    positions: dict[str, dict[int, int]] = {room: {} for room in rooms}
    for seq in range(1, count + 1):
        for room in rooms:
            positions[room][seq] = await store(bus, room, seq)
    return positions


async def test_any_range_reads_back_exactly_in_order(bus: Bus, room_log: RoomLog) -> None:
    rooms = [f"r-{secrets.token_hex(3)}" for _ in range(3)]
    await interleaved(bus, rooms, 300)
    for first, last in [(1, 1), (1, 300), (17, 40), (299, 300), (150, 150)]:
        messages = await room_log.read(rooms[1], first, last)
        assert messages is not None
        assert [m.seq for m in messages] == list(range(first, last + 1))
        assert {m.room for m in messages} == {rooms[1]}


async def test_a_known_position_reads_on_from_there(bus: Bus, room_log: RoomLog) -> None:
    room = f"r-{secrets.token_hex(3)}"
    positions = (await interleaved(bus, [room, f"o-{secrets.token_hex(3)}"], 10))[room]
    messages = await room_log.read(room, 5, 8, after=Position(4, positions[4]))
    assert messages is not None
    assert [m.seq for m in messages] == [5, 6, 7, 8]


async def test_a_range_beyond_the_last_message_is_missing(bus: Bus, room_log: RoomLog) -> None:
    room = f"r-{secrets.token_hex(3)}"
    await interleaved(bus, [room], 3)
    assert await room_log.read(room, 2, 5) is None


async def test_pages_go_newest_first_down_to_the_first_message(bus: Bus, room_log: RoomLog) -> None:
    room = f"r-{secrets.token_hex(3)}"
    await interleaved(bus, [room, f"o-{secrets.token_hex(3)}"], 7)
    assert await room_log.head(room) == 7
    first, more = await room_log.page(room, None, 3)
    assert ([m.seq for m in first], more) == ([7, 6, 5], True)
    last, more = await room_log.page(room, 3, 3)
    assert ([m.seq for m in last], more) == ([2, 1], False)


async def test_a_room_older_than_the_stream_needs_persistence(bus: Bus, room_log: RoomLog) -> None:
    room = f"r-{secrets.token_hex(3)}"
    await interleaved(bus, [room], 6)
    await bus.js.purge_stream(streams.CHAT.name, subject=subjects.chat_room(room), keep=3)
    messages = await room_log.read(room, 4, 6)
    assert messages is not None
    assert [m.seq for m in messages] == [4, 5, 6]
    with pytest.raises(RoomLogError, match="did not answer"):
        await room_log.read(room, 2, 6)  # no persistence runs in this test


async def test_a_hole_in_the_stream_is_read_from_persistence(bus: Bus, room_log: RoomLog) -> None:
    """An erased event deleted from the stream (docs/protocol.md §4, "Erase a user") is asked
    of persistence; none runs here, so asking is seen as persistence's silence."""
    room = f"r-{secrets.token_hex(3)}"
    positions = (await interleaved(bus, [room, f"o-{secrets.token_hex(3)}"], 6))[room]
    messages = await room_log.read(room, 4, 6)
    assert messages is not None
    assert [m.seq for m in messages] == [4, 5, 6]
    await bus.js.delete_msg(streams.CHAT.name, positions[3])
    assert [m.seq for m in await room_log.read(room, 4, 6) or []] == [4, 5, 6]
    with pytest.raises(RoomLogError, match="did not answer"):
        await room_log.read(room, 2, 6)  # seq 3 is asked of persistence
    with pytest.raises(RoomLogError, match="did not answer"):
        await room_log.page(room, None, 5)


async def test_a_range_starting_in_a_hole_reads_the_hole_alone_from_persistence(
    bus: Bus, room_log: RoomLog
) -> None:
    """Persistence stands in (our own endpoint, served here) for what an erasure left: the
    tombstone of seq 3, deleted from the stream. Seqs 4-6, still only in the stream, are read
    from there; only the hole is asked of persistence."""
    room = f"r-{secrets.token_hex(3)}"
    positions = (await interleaved(bus, [room, f"o-{secrets.token_hex(3)}"], 6))[room]
    await bus.js.delete_msg(streams.CHAT.name, positions[3])
    tombstone = ChatMessage(
        id=f"{room}-3", room=room, seq=3, sender_id="a", content="", timestamp=3, deleted=True
    )
    asked: list[HistoryRequest] = []

    async def history(request: HistoryRequest) -> HistoryReply:
        asked.append(request)
        return HistoryReply(messages=[tombstone] if request.room == room else [])

    await bus.serve(endpoints.PERSISTENCE_CHAT_HISTORY, history)
    messages = await room_log.read(room, 3, 6)
    assert messages is not None
    assert [(m.seq, m.content) for m in messages] == [(3, ""), (4, "m4"), (5, "m5"), (6, "m6")]
    assert [(r.before, r.limit) for r in asked] == [(4, 1)]


async def test_holes_a_history_page_apart_or_less_are_read_in_one_request(
    bus: Bus, room_log: RoomLog
) -> None:
    """Two erased events (seqs 2 and 5) are one request to persistence, not one each; the
    stream's own copies of the seqs between them are kept."""
    room = f"r-{secrets.token_hex(3)}"
    positions = (await interleaved(bus, [room, f"o-{secrets.token_hex(3)}"], 6))[room]
    for seq in (2, 5):
        await bus.js.delete_msg(streams.CHAT.name, positions[seq])
    stored = [
        ChatMessage(
            id=f"{room}-{seq}", room=room, seq=seq, sender_id="a", content=f"pg{seq}", timestamp=seq
        )
        for seq in range(1, 7)
    ]
    asked: list[HistoryRequest] = []

    async def history(request: HistoryRequest) -> HistoryReply:
        asked.append(request)
        if request.room != room or request.before is None:
            return HistoryReply(messages=[])
        below = [m for m in stored if m.seq < request.before]
        return HistoryReply(messages=below[::-1][: request.limit])

    await bus.serve(endpoints.PERSISTENCE_CHAT_HISTORY, history)
    messages = await room_log.read(room, 1, 6)
    assert messages is not None
    assert [m.content for m in messages] == ["m1", "pg2", "m3", "m4", "pg5", "m6"]
    assert [(r.before, r.limit) for r in asked] == [(6, 4)]
