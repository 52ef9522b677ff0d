import pytest
from switchboard_chat.coalesce import Coalescer


def test_the_first_change_of_a_quiet_key_goes_out_at_once() -> None:
    assert Coalescer(0.25).change("r", now=10.0) == 0.0


def test_a_burst_within_the_interval_becomes_one_later_publish() -> None:
    coalescer = Coalescer(0.25)
    assert coalescer.change("r", now=10.0) == 0.0
    delays = [coalescer.change("r", now=10.0 + n / 100) for n in range(1, 20)]
    assert delays[0] == pytest.approx(0.24)
    assert delays[1:] == [None] * 18
    coalescer.due("r", now=10.25)
    assert coalescer.change("r", now=10.3) == pytest.approx(0.2)


def test_keys_are_independent() -> None:
    coalescer = Coalescer(1.0)
    assert coalescer.change("a", now=0.0) == 0.0
    assert coalescer.change("b", now=0.1) == 0.0


def test_prune_forgets_quiet_keys_but_not_scheduled_ones() -> None:
    coalescer = Coalescer(1.0)
    coalescer.change("a", now=0.0)
    coalescer.change("b", now=0.0)
    coalescer.change("b", now=0.5)
    coalescer.prune(now=5.0)
    assert coalescer.change("a", now=5.0) == 0.0
    assert coalescer.change("b", now=5.0) is None
