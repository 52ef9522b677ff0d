import uuid

import pytest
import switchboard_contracts
from switchboard_contracts import InvalidIdError, streams, subjects
from switchboard_contracts.ids import uuid5_text


def test_room_subject_is_built_from_a_valid_room_id() -> None:
    assert subjects.chat_room("lobby-1_a") == "chat.room.lobby-1_a"


@pytest.mark.parametrize("bad", ["", "a.b", "a b", "*", ">", "x" * 65, "dashboard:ops"])
def test_room_ids_that_would_break_a_subject_are_refused(bad: str) -> None:
    with pytest.raises(InvalidIdError, match="room id"):
        subjects.chat_room(bad)


def test_every_room_subject_falls_in_the_chat_stream() -> None:
    [pattern] = streams.CHAT.subjects
    assert subjects.chat_room("x").startswith(pattern.removesuffix(">"))


def test_live_room_messages_are_republished_outside_the_stream() -> None:
    assert streams.CHAT.republish == (subjects.CHAT_ROOM_ALL, subjects.CHAT_LIVE_ALL)
    assert subjects.chat_live("x") == "chat.live.x"
    assert not subjects.chat_live("x").startswith(subjects.CHAT_ROOM_ALL.removesuffix(">"))


def test_streams_do_not_overlap() -> None:
    assert not set(streams.CHAT.subjects) & set(streams.NOTIFY.subjects)


def test_public_exports_are_pinned() -> None:
    assert sorted(switchboard_contracts.__all__) == sorted(
        [
            "MAX_CONTENT_LENGTH",
            "BusError",
            "BusMessage",
            "ChatMessage",
            "ChatSendReply",
            "ChatSendRequest",
            "ErrorCode",
            "EventKind",
            "HistoryReply",
            "HistoryRequest",
            "InvalidIdError",
            "ServiceReport",
            "endpoints",
            "input_rules",
            "streams",
            "subjects",
            "validate_room_id",
            "validate_user_id",
        ]
    )
    for name in switchboard_contracts.__all__:
        assert hasattr(switchboard_contracts, name)


def test_gateways_follow_a_live_subject_the_stream_republishes_to_outside_itself() -> None:
    """Live delivery only of what was stored: never a core subscription on the stored subject."""
    assert streams.CHAT.republish == (subjects.CHAT_ROOM_ALL, subjects.CHAT_LIVE_ALL)
    assert subjects.chat_live("x").startswith(subjects.CHAT_LIVE_ALL.removesuffix(">"))
    assert not subjects.chat_room("x").startswith(subjects.CHAT_LIVE_ALL.removesuffix(">"))


def test_notify_republishes_users_and_audiences_to_the_live_subjects_gateways_follow() -> None:
    """``notify.<kind>.<rest>`` -> ``notify.live.<kind>.<rest>`` (the stream's subject
    transform): what a gateway subscribes to is where each stored entry is republished."""
    assert streams.NOTIFY.republish == (subjects.NOTIFY_STORED, subjects.NOTIFY_LIVE_STORED)
    assert (subjects.NOTIFY_STORED, subjects.NOTIFY_LIVE_STORED) == (
        "notify.*.>",
        "notify.live.{{wildcard(1)}}.>",
    )

    def republished(subject: str) -> str:
        return subject.replace("notify.", "notify.live.", 1)

    for stored, live in (
        (subjects.notify_user("x"), subjects.notify_live("x")),
        (subjects.notify_audience("all"), subjects.notify_live_audience("all")),
        (subjects.notify_audience("team.t"), subjects.notify_live_audience("team.t")),
    ):
        assert republished(stored) == live
        assert any(stored.startswith(p.removesuffix(">")) for p in streams.NOTIFY.subjects)
        assert not any(live.startswith(p.removesuffix(">")) for p in streams.NOTIFY.subjects)


@pytest.mark.parametrize("name", ["", "room\x00user\x00msg-1", "ünïcødé ✓ 😀", "x" * 500])
def test_uuid5_text_is_the_standard_uuid5(name: str) -> None:
    """Derived ids must not change across versions: a retry matches its original by them."""
    namespace = uuid.UUID("6f1d5c8e-3f44-4f57-9d3c-5b7a0c2e9a11")
    assert uuid5_text(namespace, name) == str(uuid.uuid5(namespace, name))
