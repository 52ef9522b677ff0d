from switchboard_gateway.chat.typing_indicators import TypingBoard, TypingSource


def test_the_first_keystroke_is_sent_and_repeats_are_throttled() -> None:
    source = TypingSource(throttle=1.0, timeout=5.0)
    assert source.update("r", "al", "c1", True, now=0.0) is True
    assert source.update("r", "al", "c1", True, now=0.5) is None
    assert source.update("r", "al", "c1", True, now=1.2) is True


def test_stopping_is_sent_once() -> None:
    source = TypingSource(throttle=1.0, timeout=5.0)
    source.update("r", "al", "c1", True, now=0.0)
    assert source.update("r", "al", "c1", False, now=0.1) is False
    assert source.update("r", "al", "c1", False, now=0.2) is None


def test_a_user_types_while_any_of_their_tabs_does() -> None:
    source = TypingSource(throttle=1.0, timeout=5.0)
    source.update("r", "al", "tab1", True, now=0.0)
    source.update("r", "al", "tab2", True, now=0.1)
    assert source.stop("r", "al", "tab1", now=0.2) is None
    assert source.stop("r", "al", "tab2", now=0.3) is False


def test_a_stale_indicator_counts_as_stopped() -> None:
    source = TypingSource(throttle=1.0, timeout=5.0)
    source.update("r", "al", "c1", True, now=0.0)
    assert source.stop("r", "al", "c1", now=9.0) is False
    assert source.update("r", "al", "c1", True, now=9.5) is True


def test_the_board_tells_members_about_changes_only() -> None:
    board = TypingBoard(timeout=5.0)
    assert board.apply("r", "al", True, now=0.0) is True
    assert board.apply("r", "al", True, now=1.0) is False
    assert board.typing_in("r") == ["al"]
    assert board.apply("r", "al", False, now=2.0) is True
    assert board.apply("r", "al", False, now=3.0) is False


def test_an_indicator_nobody_refreshes_expires() -> None:
    board = TypingBoard(timeout=5.0)
    board.apply("r", "al", True, now=0.0)
    board.apply("r", "bo", True, now=3.0)
    assert board.expire(now=5.5) == [("r", "al")]
    assert board.typing_in("r") == ["bo"]
    assert board.expire(now=8.0) == [("r", "bo")]
    assert board.typing_in("r") == []
