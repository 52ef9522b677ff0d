"""The pure decisions behind a poison message: which failures are about the data, and how a
batch is split until the messages PostgreSQL refuses are alone."""

import asyncio

import asyncpg
import pytest
from switchboard_persistence.poison import Isolation, Step, data_fault


@pytest.mark.parametrize(
    ("err", "reason"),
    [
        (
            asyncpg.CharacterNotInRepertoireError(
                'invalid byte sequence for encoding "UTF8": 0x00'
            ),
            "PostgreSQL 22021 CharacterNotInRepertoireError",
        ),
        (
            asyncpg.NumericValueOutOfRangeError("bigint out of range"),
            "PostgreSQL 22003 NumericValueOutOfRangeError",
        ),
        (asyncpg.NotNullViolationError("null value"), "PostgreSQL 23502 NotNullViolationError"),
        (
            asyncpg.ProgramLimitExceededError("index row size exceeds maximum"),
            "PostgreSQL 54000 ProgramLimitExceededError",
        ),
        (
            UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates"),
            "UnicodeEncodeError while encoding the batch",
        ),
        (TypeError("expected str"), "TypeError while encoding the batch"),
    ],
)
def test_failures_about_the_data_have_a_short_reason(err: BaseException, reason: str) -> None:
    assert data_fault(err) == reason


def test_asyncpg_s_encoding_errors_name_the_argument_never_the_value() -> None:
    try:
        try:
            raise OverflowError("value out of int64 range")
        except OverflowError as cause:
            raise asyncpg.DataError(
                "invalid input for query argument $3: [1, 99999999999999999999, 'secret text'"
                "... (value out of int64 range)"
            ) from cause
    except asyncpg.DataError as err:
        reason = data_fault(err)
    assert reason == "DataError: cannot encode query argument $3 (OverflowError)"
    assert "secret" not in reason


@pytest.mark.parametrize(
    "err",
    [
        ConnectionRefusedError(111, "refused"),
        OSError("network unreachable"),
        TimeoutError(),
        asyncio.CancelledError(),
        asyncpg.CannotConnectNowError("the database system is starting up"),  # 57P03
        asyncpg.AdminShutdownError("terminating connection"),  # 57P01
        asyncpg.TooManyConnectionsError("too many clients"),  # 53300
        asyncpg.DeadlockDetectedError("deadlock"),  # 40P01
        asyncpg.SerializationError("could not serialize"),  # 40001
        asyncpg.ConnectionDoesNotExistError("connection was closed"),
        asyncpg.InterfaceError("pool is closing"),
        RuntimeError("anything else"),
    ],
    ids=lambda err: type(err).__name__,
)
def test_failures_of_postgresql_or_the_network_are_transient(err: BaseException) -> None:
    assert data_fault(err) is None


def run(
    plan: Isolation, poison: set[int], transient_first: int = 0
) -> list[tuple[str, tuple[int, ...]]]:
    """Drive a plan as the writer does, against an insert that refuses ``poison``."""
    events: list[tuple[str, tuple[int, ...]]] = []
    transient = transient_first
    while (group := plan.next()) is not None:
        if transient:
            transient -= 1
            assert plan.failed(group, None) is Step.RETRY
            events.append(("retry", group))
        elif poison & set(group):
            step = plan.failed(group, "PostgreSQL 22021 CharacterNotInRepertoireError")
            events.append((step.value, group))
        else:
            plan.committed(group)
            events.append(("committed", group))
    return events


def test_a_clean_batch_is_one_insert() -> None:
    assert run(Isolation(5, 3), set()) == [("committed", (0, 1, 2, 3, 4))]


def test_a_poison_message_is_isolated_by_halves_and_dead_lettered_after_three_attempts() -> None:
    events = run(Isolation(8, 3), {5})
    committed = sorted(i for kind, group in events if kind == "committed" for i in group)
    assert committed == [0, 1, 2, 3, 4, 6, 7]
    assert [e for e in events if e[1] == (5,)] == [
        ("retry alone", (5,)),
        ("retry alone", (5,)),
        ("dead letter", (5,)),
    ]
    # log2(8) splits down to the lone message: 8 -> 4 -> 2 -> 1
    assert [len(g) for kind, g in events if kind == "split"] == [8, 4, 2]


def test_several_poison_messages_in_one_batch_are_each_isolated() -> None:
    plan = Isolation(100, 1)
    events = run(plan, {0, 37, 38, 99})
    dead = [g for kind, g in events if kind == "dead letter"]
    committed = sorted(i for kind, g in events if kind == "committed" for i in g)
    assert dead == [(0,), (37,), (38,), (99,)]  # in order
    assert committed == [i for i in range(100) if i not in {0, 37, 38, 99}]
    assert len(events) < 60  # a few inserts per poison message, not one per message


def test_earlier_deliveries_count_as_attempts_but_one_failure_alone_is_always_needed() -> None:
    plan = Isolation(2, 3, [0, 5].__getitem__)  # message 1 was delivered 6 times before
    events = run(plan, {1})
    assert events == [
        ("split", (0, 1)),
        ("committed", (0,)),
        ("dead letter", (1,)),
    ]
    assert plan.attempts(1) == 6


def test_transient_failures_retry_the_same_group_and_never_dead_letter() -> None:
    plan = Isolation(4, 3, lambda _: 10)  # however often it was delivered
    events = run(plan, set(), transient_first=50)
    assert events[:50] == [("retry", (0, 1, 2, 3))] * 50
    assert events[50:] == [("committed", (0, 1, 2, 3))]


def test_only_the_group_at_the_head_can_be_reported() -> None:
    plan = Isolation(2, 3)
    with pytest.raises(ValueError, match="not the group"):
        plan.committed((1,))
    assert Isolation(0, 3).next() is None


def test_a_full_batch_with_one_poison_message_costs_25_inserts_as_reliability_md_says() -> None:
    events = run(Isolation(2000, 3), {1234})
    assert len(events) == 25
    assert [kind for kind, _ in events].count("split") == 11
