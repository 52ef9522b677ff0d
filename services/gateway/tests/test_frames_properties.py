"""Property tests of the frame codec: any input yields a frame or a documented error, never an
exception; anything the server encodes decodes back to what it said."""

import json
from functools import partial
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from switchboard_contracts import ChatMessage
from switchboard_gateway.chat import frames
from switchboard_gateway.chat.frames import FrameError

DOCUMENTED_ERRORS = {"invalid_json", "invalid_frame", "invalid_room", "unknown_type"}

# Text that follows the input rule: no NUL, no lone surrogate (docs/protocol.md, "Input rules").
rule_text = partial(st.text, st.characters(exclude_categories=["Cs"], exclude_characters="\x00"))

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | rule_text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(rule_text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
frame_like = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from([*sorted(frames.CLIENT_FRAME_TYPES), "x"])
        | rule_text(max_size=10)
        | json_values,
        "payload": st.fixed_dictionaries(
            {},
            optional={
                "content": json_values,
                "clientMsgId": json_values,
                "senderName": json_values,
                "room": st.sampled_from(["r", "room-1", "", "bad room"]) | json_values,
                "isTyping": json_values,
                "since": json_values,
                "before": json_values,
                "limit": json_values,
                "token": json_values,
                "status": json_values,
            },
        )
        | json_values,
        "timestamp": json_values,
    },
)


def check(result: object) -> None:
    if isinstance(result, FrameError):
        assert result.code in DOCUMENTED_ERRORS
        assert result.message
    else:
        assert isinstance(
            result,
            frames.ChatFrame
            | frames.PingFrame
            | frames.TypingFrame
            | frames.PresenceFrame
            | frames.JoinFrame
            | frames.LeaveFrame
            | frames.HistoryFrame
            | frames.AuthFrame,
        )


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    check(frames.parse_client_frame(data))


@given(st.text(st.characters(codec=None, categories=None), max_size=300))
def test_arbitrary_text_never_raises(text: str) -> None:
    check(frames.parse_client_frame(text))


@settings(max_examples=300)
@given(frame_like)
def test_arbitrary_frame_shaped_json_never_raises(frame: dict[str, Any]) -> None:
    check(frames.parse_client_frame(json.dumps(frame)))


@given(rule_text(min_size=1, max_size=200), rule_text(min_size=1, max_size=64) | st.none())
def test_a_valid_chat_frame_parses_to_exactly_what_was_sent(
    content: str, client_msg_id: str | None
) -> None:
    payload: dict[str, Any] = {"content": content}
    if client_msg_id is not None:
        payload["clientMsgId"] = client_msg_id
    parsed = frames.parse_client_frame(json.dumps({"type": "chat", "payload": payload}))
    assert parsed == frames.ChatFrame(
        content=content, sender_name=None, client_msg_id=client_msg_id
    )


@given(
    rule_text(max_size=500),
    st.integers(min_value=1, max_value=2**53),
    rule_text(min_size=1, max_size=100) | st.none(),
)
def test_an_encoded_chat_frame_decodes_to_the_stored_message(
    content: str, seq: int, name: str | None
) -> None:
    message = ChatMessage(
        id="m", room="r", seq=seq, sender_id="u", content=content, timestamp=1, sender_name=name
    )
    frame = json.loads(frames.chat_frame(message))
    assert frame["payload"]["content"] == content
    assert frame["seq"] == frame["payload"]["seq"] == seq
    assert frame["payload"].get("senderName") == name


@given(
    json_values,
    st.dictionaries(rule_text(max_size=10).filter(lambda k: k != "type"), json_values, max_size=5),
)
def test_pong_echoes_every_field_of_the_ping(payload: Any, extra: dict[str, Any]) -> None:
    ping = {"type": "ping", "payload": payload, **extra}
    parsed = frames.parse_client_frame(json.dumps(ping))
    assert isinstance(parsed, frames.PingFrame)
    pong = json.loads(frames.pong_frame(parsed.fields))
    assert pong["type"] == "pong"
    for key, value in ping.items():
        if key != "type":
            assert pong[key] == value


@given(rule_text(min_size=1, max_size=frames.MAX_TOKEN_LENGTH))
def test_an_auth_frame_carries_exactly_the_token_sent(token: str) -> None:
    parsed = frames.parse_client_frame(json.dumps({"type": "auth", "payload": {"token": token}}))
    assert parsed == frames.AuthFrame(token)


@given(rule_text(max_size=64).filter(lambda r: r != ""), st.integers(min_value=0, max_value=2**53))
def test_a_join_frame_parses_to_its_room_or_names_the_bad_room(room: str, since: int) -> None:
    parsed = frames.parse_client_frame(
        json.dumps({"type": "join", "payload": {"room": room, "since": since}})
    )
    if isinstance(parsed, FrameError):
        assert parsed.code == "invalid_room"
        assert "room" in parsed.message
    else:
        assert parsed == frames.JoinFrame(room, since)


# -- hostile input (issue 16): strings PostgreSQL or JSON refuse, deep nesting, huge numbers ----

hostile_strings = st.sampled_from(["\x00", "a\x00b", "\ud800", "x\udfff", "\udc00\ud800"])
hostile_numbers = st.sampled_from(["1e999", "-1e999", "NaN", "Infinity", "-Infinity"])


def _strings_follow_the_rule(value: Any) -> None:
    if isinstance(value, str):
        assert "\x00" not in value
        value.encode("utf-8")
    elif isinstance(value, dict):
        for key, item in value.items():
            _strings_follow_the_rule(key)
            _strings_follow_the_rule(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _strings_follow_the_rule(item)
    elif hasattr(value, "__dataclass_fields__"):
        for name in value.__dataclass_fields__:
            _strings_follow_the_rule(getattr(value, name))


@settings(max_examples=300)
@given(frame_like, hostile_strings, st.sampled_from(["type", "payload", "timestamp", "x"]))
def test_a_hostile_string_anywhere_is_refused_or_never_reaches_a_frame(
    frame: dict[str, Any], hostile: str, where: str
) -> None:
    payload = frame.get("payload")
    if where == "payload" and isinstance(payload, dict) and payload:
        payload[sorted(payload)[0]] = hostile
    else:
        frame[where] = hostile
    for ascii_only in (True, False):
        data = json.dumps(frame, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
        parsed = frames.parse_client_frame(data)
        check(parsed)
        _strings_follow_the_rule(parsed)


@given(
    st.sampled_from(["senderName", "clientMsgId", "content", "room"]),
    hostile_strings,
)
def test_a_hostile_chat_field_is_refused_naming_it(field: str, hostile: str) -> None:
    payload: dict[str, Any] = {"content": "hi", "clientMsgId": "m-1", field: hostile}
    parsed = frames.parse_client_frame(json.dumps({"type": "chat", "payload": payload}))
    assert isinstance(parsed, FrameError)
    assert f"payload.{field}" in parsed.message
    assert parsed.ref == ("chat" if field == "clientMsgId" else "m-1")


@settings(deadline=None)  # a 64 KiB document of brackets takes a while on a loaded machine
@given(st.integers(min_value=33, max_value=65_536), st.sampled_from(["[", '{"a":']))
def test_deep_nesting_is_an_error_frame_not_a_crash(depth: int, opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    for text in (
        opener * depth + "1" + closer * depth,
        f'{{"type": "ping", "payload": {opener * depth}1{closer * depth}}}',
    ):
        parsed = frames.parse_client_frame(text)
        assert isinstance(parsed, FrameError)
        assert parsed.code == "invalid_frame"
        assert "nests deeper" in parsed.message


@given(hostile_numbers, st.sampled_from(["payload", "n", "timestamp"]))
def test_a_number_that_is_not_finite_is_refused(number: str, key: str) -> None:
    parsed = frames.parse_client_frame(f'{{"type": "ping", "{key}": {number}}}')
    assert isinstance(parsed, FrameError)


@given(st.integers(min_value=2**63, max_value=2**70))
def test_since_and_before_beyond_int64_are_refused(number: int) -> None:
    join = frames.parse_client_frame(
        json.dumps({"type": "join", "payload": {"room": "r", "since": number}})
    )
    history = frames.parse_client_frame(
        json.dumps({"type": "history", "payload": {"room": "r", "before": number}})
    )
    assert isinstance(join, FrameError)
    assert "payload.since" in join.message
    assert isinstance(history, FrameError)
    assert "payload.before" in history.message
