from switchboard_gateway.chat.ordering import Deliver, Drop, FillGap, RoomOrder


def test_the_next_seq_is_delivered() -> None:
    order = RoomOrder(last=4)
    assert order.offer(5) == Deliver()
    order.delivered(5)
    assert order.last == 5


def test_an_old_or_repeated_seq_is_dropped() -> None:
    order = RoomOrder(last=4)
    assert order.offer(4) == Drop()
    assert order.offer(1) == Drop()


def test_a_jump_asks_for_the_missing_range() -> None:
    assert RoomOrder(last=4).offer(8) == FillGap(5, 7)


def test_an_empty_room_starts_at_one() -> None:
    assert RoomOrder(last=0).offer(1) == Deliver()
