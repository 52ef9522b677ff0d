"""The dead-letter contract: subjects, the stream, and the headers a dead letter carries."""

import pytest
from switchboard_contracts import streams, subjects
from switchboard_contracts.dead_letters import (
    ATTEMPTS_HEADER,
    KIND_HEADER,
    MAX_REASON_LENGTH,
    REASON_HEADER,
    DeadLetterKind,
    DeadLetterOrigin,
    dead_letter_headers,
    dead_letter_id,
    original_headers,
    read_origin,
    short_reason,
)

ORIGIN = DeadLetterOrigin(
    stream="CHAT", subject="chat.room.lobby", sequence=42, consumer="persistence-chat", attempts=3
)
ALL_STREAMS = (streams.CHAT, streams.NOTIFY, streams.NOTIFY_JOBS, streams.DEAD_LETTERS)


def covers(pattern: str, subject: str) -> bool:
    return subject.startswith(pattern.removesuffix(">"))


@pytest.mark.parametrize("stream", ALL_STREAMS[:3], ids=lambda s: s.name)
def test_each_stream_s_dead_letters_fall_in_dead_letters_and_nowhere_else(
    stream: streams.StreamSpec,
) -> None:
    subject = subjects.dead_letter(stream.name)
    assert subject == f"deadletter.{stream.name.lower()}"
    assert [s.name for s in ALL_STREAMS if any(covers(p, subject) for p in s.subjects)] == [
        "DEAD_LETTERS"
    ]


def test_replay_requests_are_stored_by_no_stream() -> None:
    subject = subjects.dead_letter_replay("NOTIFY_JOBS")
    assert subject == "ops.dead-letter.replay.notify_jobs"
    assert not any(covers(p, subject) for s in ALL_STREAMS for p in s.subjects)
    assert covers(subjects.DEAD_LETTER_REPLAY_ALL, subject)


def test_dead_letters_are_kept_on_file_for_a_month_by_persistence() -> None:
    assert streams.DEAD_LETTERS.owner == "persistence"
    assert streams.DEAD_LETTERS.max_age_seconds == 30 * 24 * 3600
    assert not streams.DEAD_LETTERS.work_queue


def test_a_dead_letter_keeps_the_original_headers_and_says_where_it_came_from() -> None:
    original = {
        "Nats-Msg-Id": "m-1",
        "Nats-Expected-Last-Subject-Sequence": "41",
        "traceparent": "00-abc-def-00",
    }
    headers = dead_letter_headers(
        original,
        ORIGIN,
        DeadLetterKind.REJECTED,
        "PostgreSQL 22021\nCharacterNotInRepertoireError",
        message_id=dead_letter_id(ORIGIN),
    )
    # JetStream acts on Nats-* headers: the original's are kept under another name
    assert headers["Nats-Msg-Id"] == "CHAT-42"
    assert headers["Switchboard-Original-Nats-Msg-Id"] == "m-1"
    assert "Nats-Expected-Last-Subject-Sequence" not in headers
    assert headers["traceparent"] == "00-abc-def-00"
    assert headers[REASON_HEADER] == "PostgreSQL 22021 CharacterNotInRepertoireError"
    assert (headers[KIND_HEADER], headers[ATTEMPTS_HEADER]) == ("rejected", "3")
    assert read_origin(headers) == (
        ORIGIN,
        DeadLetterKind.REJECTED,
        "PostgreSQL 22021 CharacterNotInRepertoireError",
    )
    assert original_headers(headers) == original


def test_a_dead_letter_stored_again_after_a_replay_carries_only_the_new_reason() -> None:
    first = dead_letter_headers(
        {"a": "1"}, ORIGIN, DeadLetterKind.REJECTED, "old", message_id=dead_letter_id(ORIGIN)
    )
    again = dead_letter_headers(
        original_headers(first),
        ORIGIN,
        DeadLetterKind.UNDECODABLE,
        "new",
        message_id=dead_letter_id(ORIGIN, replay_of=7),
    )
    assert again[REASON_HEADER] == "new"
    assert again["Nats-Msg-Id"] == "CHAT-42-replay-7" != first["Nats-Msg-Id"]
    assert original_headers(again) == {"a": "1"}


def test_reasons_are_one_short_printable_line() -> None:
    assert short_reason("a\r\n\tb\x00c") == "a b c"
    assert len(short_reason("x" * 1000)) == MAX_REASON_LENGTH
    assert short_reason("  ") == "unknown"


def test_headers_that_are_not_a_dead_letter_s_are_refused() -> None:
    with pytest.raises(ValueError, match="not a dead letter"):
        read_origin({"traceparent": "x"})
