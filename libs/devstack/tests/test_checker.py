"""The fault tests' checker on hand-made histories: each kind of violation is named."""

from switchboard_devstack.checker import Entry, check


def entry(seq: int, op: str, room: str = "r") -> Entry:
    return Entry(room, seq, f"{room}:{seq}", op)


STORED = [entry(1, "a"), entry(2, "b")]
ACKS = {"a": [("r:1", 1)], "b": [("r:2", 2), ("r:2", 2)]}  # b was retried and acked again alike


def test_a_clean_history_passes() -> None:
    verdict = check(["a", "b", "c"], ACKS, STORED, {"bob": STORED}, {"bob": ["r"]})
    assert verdict.ok, verdict.summary()
    assert verdict.summary() == "ok"


def test_an_acked_operation_not_stored_is_lost() -> None:
    verdict = check(["a", "b"], ACKS, STORED[:1], {"bob": STORED[:1]}, {"bob": ["r"]})
    assert verdict.lost == ["b"]
    assert not verdict.ok


def test_an_unacked_operation_may_be_stored_or_not() -> None:
    verdict = check(["a", "b"], {"a": ACKS["a"], "b": []}, STORED[:1], {}, {})
    assert verdict.ok, verdict.summary()


def test_acks_that_disagree_with_the_store_or_each_other_are_wrong() -> None:
    acks = {"a": [("r:1", 1), ("r:9", 9)], "b": [("r:3", 3)]}
    verdict = check(["a", "b"], acks, STORED, {}, {})
    assert verdict.wrong_ack == ["a", "b"]


def test_an_operation_stored_twice_or_never_sent_is_named() -> None:
    stored = [*STORED, entry(3, "a"), entry(4, "zzz")]
    verdict = check(["a", "b"], {}, stored, {}, {})
    assert verdict.stored_twice == ["a"]
    assert verdict.phantom == ["zzz"]


def test_a_reader_must_have_displayed_everything_stored_in_its_streams() -> None:
    other = entry(1, "c", room="elsewhere")
    verdict = check(["a", "b", "c"], {}, [*STORED, other], {"bob": STORED[:1]}, {"bob": ["r"]})
    assert verdict.missing == {"bob": [STORED[1]]}


def test_a_message_displayed_twice_is_a_duplicate() -> None:
    shown = [STORED[0], STORED[1], STORED[1]]
    verdict = check(["a", "b"], ACKS, STORED, {"bob": shown}, {"bob": ["r"]})
    assert verdict.duplicates == {"bob": [("r", 2)]}


def test_a_broadcast_acked_before_it_had_a_position_is_checked_by_its_id() -> None:
    broadcast = Entry("audience:all", 7, "b-1", "hello")
    acks: dict[str, list[tuple[str, int | None]]] = {"hello": [("b-1", None)]}
    reads = {"alice": ["alice", "audience:all"], "bob": ["bob", "audience:all"]}
    verdict = check(["hello"], acks, [broadcast], {"alice": [broadcast], "bob": []}, reads)
    assert verdict.missing == {"bob": [broadcast]}  # every member must show it
    assert verdict.lost == verdict.wrong_ack == []
    assert check(["hello"], {"hello": [("b-2", None)]}, [broadcast], {}, {}).wrong_ack == ["hello"]
    assert check(["hello"], acks, [], {}, {}).lost == ["hello"]
