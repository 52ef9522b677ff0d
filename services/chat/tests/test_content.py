import uuid

import pytest
from switchboard_chat.content import message_id, sanitise
from switchboard_contracts import BusError, ErrorCode


def test_content_is_trimmed() -> None:
    assert sanitise("  hello \n") == "hello"


def test_markup_is_kept_as_typed() -> None:
    assert sanitise("<3 <b>x</b> &amp;") == "<3 <b>x</b> &amp;"


def test_control_characters_are_removed_but_newline_and_tab_kept() -> None:
    assert sanitise("a\x00b\x07c\x1bd\x7fe\tf\ng\r\nh") == "abcde\tf\ng\nh"


def test_empty_content_is_refused() -> None:
    result = sanitise(" \x00\t\n ")
    assert isinstance(result, BusError)
    assert result.code == ErrorCode.INVALID_CONTENT
    assert "empty" in result.message


def test_5000_characters_are_accepted() -> None:
    assert sanitise("x" * 5000) == "x" * 5000


def test_5001_characters_are_refused_naming_the_limit() -> None:
    result = sanitise("x" * 5001)
    assert isinstance(result, BusError)
    assert result.code == ErrorCode.CONTENT_TOO_LONG
    assert "5000" in result.message


def test_the_limit_counts_after_trimming() -> None:
    assert sanitise("  " + "x" * 5000 + "  ") == "x" * 5000


def test_a_retried_client_msg_id_gets_the_same_message_id() -> None:
    assert message_id("lobby", "alice", "c-1") == message_id("lobby", "alice", "c-1")


def test_message_ids_differ_between_users_and_without_client_msg_id() -> None:
    assert message_id("lobby", "alice", "c-1") != message_id("lobby", "bob", "c-1")
    assert message_id("lobby", "alice", None) != message_id("lobby", "alice", None)


def test_the_same_client_msg_id_in_another_room_is_another_message() -> None:
    assert message_id("lobby", "alice", "c-1") != message_id("other", "alice", "c-1")


@pytest.mark.parametrize(
    ("room", "user", "client_msg_id"),
    [
        ("lobby", "alice", "c-1"),
        ("room-7", "user-42", "0b5e2f4c-1d2a-4a57-9e1c-3b6f0a9d8c71"),
        ("lobby", "Zoë", "ünïcødé ✓ 😀"),
        ("", "", ""),
        ("r", "u", "x" * 500),
    ],
)
def test_message_ids_are_the_uuid5_of_room_user_and_client_msg_id(
    room: str, user: str, client_msg_id: str
) -> None:
    """The same ids as before the fast derivation: a retry across an upgrade is still a retry."""
    namespace = uuid.UUID("6f1d5c8e-3f44-4f57-9d3c-5b7a0c2e9a11")
    expected = str(uuid.uuid5(namespace, f"{room}\x00{user}\x00{client_msg_id}"))
    assert message_id(room, user, client_msg_id) == expected
