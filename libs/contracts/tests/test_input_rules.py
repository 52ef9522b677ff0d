"""The input rule: valid Unicode scalar values without NUL, finite numbers, bounded nesting; an
error that names the field; and whatever passes can be stored in PostgreSQL and sent as JSON."""

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from switchboard_contracts import ChatMessage
from switchboard_contracts.chat import HistoryRequest
from switchboard_contracts.input_rules import (
    INT64_MAX,
    INT64_MIN,
    MAX_JSON_DEPTH,
    InputError,
    check_text,
    dump_json,
    dump_plain_json,
    load_json,
    text_problem,
)
from switchboard_contracts.notify import Notification


def test_plain_text_and_emoji_follow_the_rule() -> None:
    assert text_problem("hello, wörld 👋\n\t") is None


def test_nul_is_refused() -> None:
    assert text_problem("a\x00b") == "must not contain U+0000 (NUL)"


def test_a_lone_surrogate_is_refused_and_named() -> None:
    assert text_problem("a\ud800") == "must not contain a lone surrogate (U+D800)"
    assert text_problem("\udfff") == "must not contain a lone surrogate (U+DFFF)"


def test_check_text_names_the_field() -> None:
    with pytest.raises(InputError) as refused:
        check_text("x\x00", "payload.senderName")
    assert str(refused.value) == "payload.senderName: must not contain U+0000 (NUL)"
    assert refused.value.field == "payload.senderName"


def test_an_escaped_nul_is_refused_with_its_path() -> None:
    with pytest.raises(InputError) as refused:
        load_json(r'{"payload": {"senderName": "a\u0000"}}')
    assert refused.value.field == "payload.senderName"


def test_an_escaped_lone_surrogate_is_refused_with_its_path() -> None:
    with pytest.raises(InputError) as refused:
        load_json(r'{"payload": {"meta": ["ok", "\ud800"]}}')
    assert refused.value.field == "payload.meta[1]"
    assert "U+D800" in refused.value.problem


def test_a_surrogate_pair_escape_is_one_character_and_allowed() -> None:
    assert load_json(r'"\ud83d\udc4b"') == "👋"


def test_a_bad_key_is_refused() -> None:
    with pytest.raises(InputError, match="a key must not contain U"):
        load_json(r'{"payload": {"\u0000": 1}}')


def test_the_text_u0000_written_with_an_escaped_backslash_is_allowed() -> None:
    assert load_json(r'{"a": "\\u0000"}') == {"a": "\\u0000"}


def test_bytes_must_be_strict_utf8() -> None:
    # CESU-8 of U+D800: the standard library would decode it with surrogatepass.
    with pytest.raises(InputError, match="is not UTF-8"):
        load_json(b'"\xed\xa0\x80"')


def test_a_str_already_holding_a_surrogate_is_refused() -> None:
    with pytest.raises(InputError, match="lone surrogate"):
        load_json('"\ud800"')


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json(literal: str) -> None:
    with pytest.raises(InputError, match="is not a JSON number"):
        load_json(f'{{"n": {literal}}}')


def test_a_float_that_overflows_is_refused() -> None:
    with pytest.raises(InputError, match="out of range"):
        load_json('{"n": 1e999}')


def test_an_integer_with_too_many_digits_is_refused() -> None:
    with pytest.raises(InputError, match="too many digits"):
        load_json("1" * 5000)


def test_large_integers_within_the_digit_limit_are_json() -> None:
    assert load_json(str(2**64)) == 2**64


def test_nesting_up_to_the_limit_is_allowed() -> None:
    text = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert load_json(text) is not None


def test_nesting_beyond_the_limit_is_refused() -> None:
    depth = MAX_JSON_DEPTH + 1
    with pytest.raises(InputError, match=f"nests deeper than {MAX_JSON_DEPTH}"):
        load_json("[" * depth + "]" * depth)


def test_nesting_far_beyond_the_recursion_limit_is_refused_not_crashing() -> None:
    with pytest.raises(InputError, match="nests deeper"):
        load_json("[" * 50_000 + "]" * 50_000)
    with pytest.raises(InputError):
        load_json("[" * 50_000)


def test_many_shallow_brackets_are_fine() -> None:
    assert len(load_json(json.dumps([{"a": [1]}] * 100))) == 100


def test_not_json_is_named() -> None:
    with pytest.raises(InputError, match="is not valid JSON"):
        load_json("{")


def test_a_byte_order_mark_is_refused_as_json_loads_refuses_it() -> None:
    with pytest.raises(InputError, match=r"is not valid JSON \(Unexpected UTF-8 BOM"):
        load_json('\ufeff{"type": "ping"}')
    with pytest.raises(InputError, match="is not valid JSON"):
        load_json('\ufeff{"type": "ping"}'.encode())


_RULED_TEXT = st.text(st.characters(exclude_characters="\x00", exclude_categories=["Cs"]))


@settings(max_examples=300)
@given(
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False, allow_infinity=False)
        | _RULED_TEXT,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_RULED_TEXT, inner, max_size=4),
        max_leaves=12,
    )
)
def test_documents_that_follow_the_rule_decode_as_json_loads_decodes_them(value: Any) -> None:
    text = json.dumps(value, ensure_ascii=False, allow_nan=True)
    try:
        expected = json.loads(text)
    except ValueError:
        return  # an integer of too many digits: refused by both, tested elsewhere
    assert load_json(text) == expected


def test_dump_json_refuses_nan_and_infinity() -> None:
    with pytest.raises(ValueError, match="not JSON compliant"):
        dump_json({"n": float("inf")})
    assert dump_json({"a": "é"}) == '{"a":"é"}'


_TEXT = st.text() | st.text(
    st.sampled_from(["\ud800", "\udfff", "\u2028", "\x00", "\x7f", '"', "\\", "é"])
)
_PLAIN = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=INT64_MIN, max_value=INT64_MAX) | _TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=400)
@given(st.dictionaries(_TEXT, _PLAIN, max_size=6))
def test_plain_values_are_dumped_as_dump_json_dumps_them(value: dict[str, Any]) -> None:
    """Any text (control characters, quotes, backslashes, line and paragraph separators, lone
    surrogates), integers, booleans, None, nested: the very text ``dump_json`` writes, or its
    error."""
    try:
        expected = dump_json(value)
    except ValueError as err:
        with pytest.raises(type(err)):
            dump_plain_json(value)
        return
    assert dump_plain_json(value) == expected


def test_a_bus_message_with_an_escaped_nul_does_not_decode() -> None:
    data = ChatMessage(id="x", room="r", seq=1, sender_id="u", content="c", timestamp=1).encode()
    poisoned = data.replace(b'"content":"c"', b'"content":"c\\u0000"')
    with pytest.raises(ValidationError, match=r"U\+0000"):
        ChatMessage.decode(poisoned)


def test_a_bus_message_with_a_lone_surrogate_does_not_decode() -> None:
    with pytest.raises(ValidationError):
        HistoryRequest.decode(b'{"room": "\\ud800"}')


def test_a_bus_message_with_the_text_backslash_u0000_decodes() -> None:
    data = ChatMessage(
        id="x", room="r", seq=1, sender_id="u", content="\\u0000", timestamp=1
    ).encode()
    assert ChatMessage.decode(data).content == "\\u0000"


@pytest.mark.parametrize("seq", [2**63, -(2**63) - 1])
def test_a_seq_beyond_int64_does_not_decode(seq: int) -> None:
    data = json.dumps(
        {"id": "x", "room": "r", "seq": seq, "sender_id": "u", "content": "c", "timestamp": 1}
    ).encode()
    with pytest.raises(ValidationError):
        ChatMessage.decode(data)


def test_int64_bounds_are_inclusive() -> None:
    assert HistoryRequest.decode(f'{{"room": "r", "before": {INT64_MAX}}}'.encode()).before


def test_a_bus_message_with_a_non_finite_number_does_not_decode() -> None:
    with pytest.raises(ValidationError):
        Notification.decode(b'{"id": "n", "user_id": "u", "cursor": 1e999}')


# -- properties -------------------------------------------------------------------------------

any_character = st.characters(codec=None, categories=None)
hostile_text = st.text(any_character, max_size=12) | st.sampled_from(
    ["\x00", "\ud800", "a\udfff", "\\u0000", "👋"]
)
hostile_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | hostile_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(hostile_text, inner, max_size=3),
    max_leaves=12,
)


def _follows_the_rule(value: Any) -> None:
    """Whatever load_json returns is storable and sendable as it is."""
    dump_json(value).encode("utf-8")
    if isinstance(value, str):
        assert "\x00" not in value
    elif isinstance(value, list):
        for item in value:
            _follows_the_rule(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            _follows_the_rule(key)
            _follows_the_rule(item)


def _encodings(value: Any) -> list[str]:
    """The ways a hostile client could spell ``value`` (escaped and not)."""
    texts = []
    for ascii_only in (True, False):
        with contextlib.suppress(ValueError):  # NaN and infinities: json.dumps writes them
            texts.append(json.dumps(value, ensure_ascii=ascii_only))
    return texts


@settings(max_examples=300, deadline=None)
@given(hostile_values)
def test_load_json_returns_only_what_follows_the_rule_or_refuses(value: Any) -> None:
    for text in _encodings(value):
        try:
            loaded = load_json(text)
        except InputError:
            continue
        _follows_the_rule(loaded)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64) | st.text(any_character, max_size=64))
def test_load_json_never_raises_anything_but_input_error(data: bytes | str) -> None:
    try:
        loaded = load_json(data)
    except InputError:
        return
    _follows_the_rule(loaded)


@settings(max_examples=200, deadline=None)
@given(hostile_text, st.integers(), hostile_text)
def test_bus_decoding_refuses_what_postgresql_would(content: str, seq: int, name: str) -> None:
    document = {
        "id": "x",
        "room": "r",
        "seq": seq,
        "sender_id": "u",
        "content": content,
        "timestamp": 1,
        "sender_name": name,
    }
    for text in _encodings(document):
        try:
            message = ChatMessage.decode(text.encode("utf-8", "surrogatepass"))
        except ValidationError:
            continue
        for value in (message.content, message.sender_name or ""):
            assert text_problem(value) is None
        assert -(2**63) <= message.seq <= INT64_MAX
