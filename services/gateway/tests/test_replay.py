from switchboard_gateway.chat.replay import NothingMissed, Replay, Unrecoverable, plan_replay


def test_a_client_that_saw_everything_misses_nothing() -> None:
    assert plan_replay(since=7, upto=7, max_messages=100) == NothingMissed()


def test_the_missed_range_follows_since() -> None:
    assert plan_replay(since=3, upto=7, max_messages=100) == Replay(4, 7)
    assert plan_replay(since=0, upto=2, max_messages=100) == Replay(1, 2)


def test_a_cursor_ahead_of_the_room_cannot_be_recovered() -> None:
    plan = plan_replay(since=9, upto=7, max_messages=100)
    assert isinstance(plan, Unrecoverable)
    assert "newer" in plan.reason


def test_too_large_a_gap_is_not_replayed() -> None:
    plan = plan_replay(since=0, upto=101, max_messages=100)
    assert isinstance(plan, Unrecoverable)
    assert "100" in plan.reason
