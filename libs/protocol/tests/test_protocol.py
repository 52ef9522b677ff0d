"""The client-protocol vocabulary says what docs/protocol.md says, and nothing more."""

import re
from pathlib import Path

import pytest
import switchboard_protocol
from switchboard_protocol import (
    ClientFrameType,
    CloseCode,
    ErrorCode,
    InvalidIdError,
    Reconnect,
    format_hint,
    parse_hint,
    validate_room_id,
)

PROTOCOL_MD = Path(__file__).parents[3] / "docs" / "protocol.md"


def test_public_exports_are_pinned() -> None:
    assert sorted(switchboard_protocol.__all__) == sorted(
        [
            "ID_PATTERN",
            "ClientFrameType",
            "CloseCode",
            "ErrorCode",
            "InvalidIdError",
            "Reconnect",
            "ServerFrameType",
            "format_hint",
            "iso_time",
            "now_ms",
            "parse_hint",
            "validate_room_id",
            "validate_team_id",
            "validate_user_id",
        ]
    )


def _documented_close_codes() -> dict[int, str]:
    section = PROTOCOL_MD.read_text().split("### Close codes", 1)[1].split("###", 1)[0]
    rows = re.findall(r"^\| (\d{4}) \| ([^|]+) \| ([^|]+) \|$", section, re.M)
    return {int(code): advice.strip() for code, _, advice in rows}


def test_the_close_codes_are_the_documented_ones() -> None:
    assert set(_documented_close_codes()) == {int(code) for code in CloseCode}


@pytest.mark.parametrize("code", list(CloseCode), ids=lambda code: str(int(code)))
def test_each_reconnect_rule_agrees_with_the_documented_advice(code: CloseCode) -> None:
    advice = _documented_close_codes()[code]
    expected = {
        Reconnect.STOP: "stop",
        Reconnect.NEVER: "fix the client",
        Reconnect.WITH_NEW_TOKEN: "fresh token",
        Reconnect.AFTER_HINT: "after that delay",
        Reconnect.BACKOFF: "with backoff",
        Reconnect.SLOW_BACKOFF: "back off",
    }[code.reconnect]
    assert expected in advice


def test_every_code_has_a_rule() -> None:
    assert all(isinstance(code.reconnect, Reconnect) for code in CloseCode)


def test_final_codes_are_those_a_plain_client_cannot_recover_from() -> None:
    assert {int(code) for code in CloseCode if code.final} == {1007, 1008, 1009}


def test_a_close_code_is_its_number_on_the_wire() -> None:
    assert int(CloseCode.SERVICE_RESTART) == 1012
    assert str(CloseCode.RATE_LIMITED) == "4429"
    assert CloseCode(1013) is CloseCode.TRY_AGAIN_LATER


def test_the_reconnect_hint_round_trips() -> None:
    assert format_hint(1234) == "service restart; reconnect in 1234 ms"
    assert parse_hint(format_hint(1234)) == 1234
    assert parse_hint("going away") is None


def test_frame_and_error_names_are_the_documented_ones() -> None:
    text = PROTOCOL_MD.read_text()
    for kind in ClientFrameType:
        assert f"| `{kind}` |" in text
    errors_line = text.split("- **Errors.** `code` is one of", 1)[1].split(". `ref`", 1)[0]
    assert set(re.findall(r"`([a-z_]+)`", errors_line)) == set(ErrorCode)


def test_ids_are_subject_tokens() -> None:
    assert validate_room_id("room-1_A") == "room-1_A"
    with pytest.raises(InvalidIdError, match="room id must be"):
        validate_room_id("a.b")
