from switchboard_contracts import ChatMessage
from switchboard_persistence.erase_plan import StreamEvent, stream_deletions


def event(stream_seq: int, room: str) -> StreamEvent:
    message = ChatMessage(
        id=f"m{stream_seq}", room=room, seq=stream_seq, sender_id="u", content="x", timestamp=1
    )
    return StreamEvent(stream_seq, message)


def test_every_event_older_than_its_rooms_newest_is_deleted_in_stream_order() -> None:
    deleted, kept = stream_deletions(
        [event(7, "a"), event(2, "a"), event(3, "b")], {"a": 9, "b": 4}
    )
    assert (deleted, kept) == ([2, 3, 7], 0)


def test_an_event_that_is_its_rooms_newest_is_kept_and_counted() -> None:
    deleted, kept = stream_deletions([event(2, "a"), event(9, "a")], {"a": 9})
    assert (deleted, kept) == ([2], 1)


def test_a_room_with_nothing_left_in_the_stream_has_nothing_to_delete() -> None:
    assert stream_deletions([event(2, "a")], {}) == ([], 0)
