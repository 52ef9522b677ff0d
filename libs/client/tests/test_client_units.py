"""The client's decisions without sockets: backoff, cursors, the outbox."""

import pytest
from switchboard_client import Backoff, Outbox, RoomCursors
from switchboard_client.events import Ack, ChatMessage, ErrorFrame, OtherFrame, parse_frame


def upper_bound(_low: float, high: float) -> float:
    return high


def test_backoff_doubles_up_to_the_cap_and_starts_over_after_a_reset() -> None:
    backoff = Backoff(base=0.5, cap=3.0, rand=upper_bound)
    assert [backoff.next_delay() for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    backoff.reset()
    assert backoff.next_delay() == 0.5


def test_backoff_is_full_jitter_between_zero_and_the_ceiling() -> None:
    calls: list[tuple[float, float]] = []

    def record(low: float, high: float) -> float:
        calls.append((low, high))
        return low

    backoff = Backoff(base=1.0, cap=4.0, rand=record)
    backoff.next_delay()
    backoff.next_delay()
    backoff.jitter(10.0)
    assert calls == [(0.0, 1.0), (0.0, 2.0), (0.0, 4.0)]


def test_backoff_refuses_a_base_above_its_cap() -> None:
    with pytest.raises(ValueError, match="base"):
        Backoff(base=2.0, cap=1.0)


def test_cursors_show_each_room_and_seq_once() -> None:
    cursors = RoomCursors()
    assert cursors.since("a") is None
    assert [cursors.accept("a", s) for s in (1, 2, 2, 1, 3)] == [True, True, False, False, True]
    assert cursors.accept("b", 1)
    assert cursors.snapshot() == {"a": 3, "b": 1}


def test_a_join_sets_the_cursor_only_where_nothing_was_shown() -> None:
    cursors = RoomCursors({"a": 3})
    cursors.start("a", 7)  # a resume: the replay moves it, not the join
    cursors.start("b", 4)
    assert cursors.snapshot() == {"a": 3, "b": 4}
    assert not cursors.accept("b", 4)
    assert cursors.accept("b", 5)


def test_the_outbox_keeps_order_and_forgets_only_what_was_acked() -> None:
    outbox = Outbox()
    first = outbox.add("r", "one", "c-1")
    outbox.add("r", "two", "c-2")
    assert outbox.add("r", "one again", "c-1") == first  # a retry is the same send
    assert outbox.acked("other-room", "c-1") is None
    assert outbox.acked("r", "c-1") == first
    assert [p.client_msg_id for p in outbox.pending()] == ["c-2"]
    assert outbox.add("r", "generated").client_msg_id


def test_frames_are_typed_and_unknown_ones_kept() -> None:
    chat = parse_frame(
        {
            "type": "chat",
            "room": "r",
            "id": "m1",
            "seq": 4,
            "senderId": "alice",
            "timestamp": 7,
            "payload": {"content": "hi", "clientMsgId": "c"},
        }
    )
    assert chat == ChatMessage("r", 4, "m1", "alice", "hi", "c", 7)
    ack = {"type": "ack", "payload": {"clientMsgId": "c", "id": "m1", "seq": 4, "room": "r"}}
    assert parse_frame(ack) == Ack("r", "c", "m1", 4)
    error = {"type": "error", "payload": {"code": "unavailable", "message": "m", "ref": "c"}}
    assert parse_frame(error) == ErrorFrame("unavailable", "m", "c")
    assert isinstance(parse_frame({"type": "typing", "payload": {}}), OtherFrame)
    assert isinstance(parse_frame({"type": "pong"}), OtherFrame)
