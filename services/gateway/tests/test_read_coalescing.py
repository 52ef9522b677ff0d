from switchboard_contracts.reads import ReadState
from switchboard_gateway.chat.read_coalescing import ReadCoalescer


def mark(seq: int, user: str = "al", room: str = "r") -> ReadState:
    return ReadState(room=room, user_id=user, seq=seq)


def test_the_first_mark_goes_at_once_and_later_ones_wait_for_the_interval() -> None:
    coalescer = ReadCoalescer(1.0)
    assert coalescer.offer(mark(1), 0.0) == mark(1)
    assert coalescer.offer(mark(2), 0.2) is None
    assert coalescer.offer(mark(3), 0.4) is None
    assert coalescer.due(0.9) == []
    assert coalescer.due(1.0) == [mark(3)]  # the latest wins
    assert coalescer.due(2.5) == []


def test_a_lower_mark_held_after_a_higher_one_does_not_win() -> None:
    coalescer = ReadCoalescer(1.0)
    coalescer.offer(mark(1), 0.0)
    coalescer.offer(mark(5), 0.1)
    coalescer.offer(mark(4), 0.2)
    assert coalescer.due(1.0) == [mark(5)]


def test_users_and_rooms_are_coalesced_apart() -> None:
    coalescer = ReadCoalescer(1.0)
    assert coalescer.offer(mark(1), 0.0) is not None
    assert coalescer.offer(mark(1, user="bo"), 0.1) is not None
    assert coalescer.offer(mark(1, room="q"), 0.2) is not None


def test_a_mark_after_a_quiet_interval_goes_at_once_and_quiet_slots_are_forgotten() -> None:
    coalescer = ReadCoalescer(1.0)
    coalescer.offer(mark(1), 0.0)
    assert coalescer.offer(mark(2), 1.5) == mark(2)
    assert coalescer.due(3.0) == []
    assert len(coalescer) == 0
