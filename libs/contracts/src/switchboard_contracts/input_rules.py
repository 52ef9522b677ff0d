"""The one rule for every text that enters Switchboard (docs/protocol.md, "Input rules").

Applied at the edge (WebSocket frames, HTTP bodies and parameters, tokens) before anything is
acknowledged, and again when a bus message is decoded, so that a buggy or older peer cannot
poison a consumer either:

- a string is valid Unicode scalar values without U+0000: what PostgreSQL ``text`` and JSON
  both accept (no lone surrogates such as ``"\\ud800"``, no NUL);
- a number is finite (no ``NaN``, ``Infinity``, nor a literal such as ``1e999`` that overflows
  to it), and an integer that is stored fits a signed 64-bit column (``Int64``);
- JSON nests at most ``MAX_JSON_DEPTH`` levels;
- JSON we send is always valid JSON (``dump_json`` refuses NaN and Infinity).

Pure: no I/O. ``InputError`` names the field at fault (a JSON path such as
``payload.senderName``) and the problem.
"""

import json
import math
import re
from array import array
from itertools import accumulate
from typing import Annotated, Any

from pydantic import Field
from pydantic_core import PydanticSerializationError, to_json

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "MAX_JSON_DEPTH",
    "InputError",
    "Int64",
    "check_text",
    "dump_json",
    "dump_plain_json",
    "load_json",
    "text_problem",
]

MAX_JSON_DEPTH = 32
INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)

Int64 = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]
"""An integer that goes to a ``bigint`` column or field (seq, cursor, timestamp)."""

_SURROGATES = range(0xD800, 0xE000)


class InputError(ValueError):
    """Input that breaks the rule: ``field`` is where (None: the document itself).

    ``document`` is the decoded document when the problem was found in it (a string or the
    nesting), so that a caller can still name what the input was about (a frame's type)."""

    def __init__(self, field: str | None, problem: str, document: Any = None) -> None:
        super().__init__(f"{field}: {problem}" if field else problem)
        self.field = field
        self.problem = problem
        self.document = document


def text_problem(value: str) -> str | None:
    """What is wrong with ``value`` under the rule, or None when nothing is."""
    if "\x00" in value:
        return "must not contain U+0000 (NUL)"
    if value.isascii():
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as err:
        code = ord(value[err.start])
        if code in _SURROGATES:
            return f"must not contain a lone surrogate (U+{code:04X})"
        raise  # pragma: no cover - only surrogates fail to encode as UTF-8
    return None


def check_text(value: str, field: str | None = None) -> str:
    """``value`` itself, or ``InputError`` naming ``field`` when it breaks the rule."""
    problem = text_problem(value)
    if problem is not None:
        raise InputError(field, problem)
    return value


def _refuse_constant(name: str) -> Any:
    raise InputError(None, f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise InputError(None, f"the number {text[:40]} is out of range")
    return value


def _path(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else key


def _check_tree(value: Any, path: str, depth: int, *, strings: bool, max_depth: int) -> None:
    """Walk a decoded document: nesting, and (``strings``) every key and string."""
    if isinstance(value, dict):
        if depth >= max_depth:
            raise InputError(path or None, f"nests deeper than {max_depth} levels")
        for key, item in value.items():
            if strings:
                problem = text_problem(key)
                if problem is not None:
                    raise InputError(path or None, f"a key {problem}")
            _check_tree(item, _path(path, key), depth + 1, strings=strings, max_depth=max_depth)
    elif isinstance(value, list):
        if depth >= max_depth:
            raise InputError(path or None, f"nests deeper than {max_depth} levels")
        for index, item in enumerate(value):
            _check_tree(item, _path(path, index), depth + 1, strings=strings, max_depth=max_depth)
    elif strings and isinstance(value, str):
        check_text(value, path or None)


_PARSER_SAFE_DEPTH = 256
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float)
"""What ``json.loads(text, parse_constant=..., parse_float=...)`` builds on every call (a decoder
and its scanner, half the cost of decoding a chat frame), built once."""
_STRING_LITERAL = re.compile(r'"(?:[^"\\]|\\.)*"')
_NOT_A_BRACKET = re.compile(r"[^\[\]{}]+")
_STEPS = str.maketrans({"[": "\x01", "{": "\x01", "]": "\xff", "}": "\xff"})


def _nesting(text: str) -> int:
    """How deep the brackets of ``text`` nest, strings left out (of a JSON text or not: an
    unbalanced one is the parser's to refuse). Each step runs in C (regexes, ``translate``, a
    running sum), so a 64 KiB document of brackets costs about a millisecond, not a Python loop
    per bracket."""
    brackets = _NOT_A_BRACKET.sub("", _STRING_LITERAL.sub("", text))
    steps = array("b", brackets.translate(_STEPS).encode("latin-1"))  # +1 or -1 per bracket
    return max(accumulate(steps), default=0)


def _decode(text: str) -> Any:
    """``json.loads(text, parse_constant=..., parse_float=...)``, on a decoder built once."""
    if text.startswith("\ufeff"):  # what json.loads refuses before decoding
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
    return _DECODER.decode(text)


def load_json(data: str | bytes | bytearray, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Decode a JSON document that follows the rule, or raise ``InputError``.

    Bytes must be UTF-8 (strictly: the standard library would let encoded surrogates through).
    Only what can break the rule is walked: strings when the text has an escape (a NUL or a
    lone surrogate can only arrive as ``\\u0000`` / ``\\ud800`` once the text itself is valid
    Unicode: raw control characters are not JSON), nesting when there are enough brackets.
    """
    if isinstance(data, bytes | bytearray):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as err:
            raise InputError(None, f"is not UTF-8 (byte {err.start})") from None
    else:
        text = data
        if not text.isascii():
            check_text(text)  # a str from elsewhere may already hold a lone surrogate
    brackets = text.count("[") + text.count("{")
    deep = brackets > max_depth
    # Far too deep is refused before the parser recurses into it (a RecursionError deep in the
    # parser is caught, but whatever the interpreter must do meanwhile, a finaliser or a log
    # record, then fails too); a little too deep is found by the walk below, with its path.
    if brackets > _PARSER_SAFE_DEPTH and _nesting(text) > _PARSER_SAFE_DEPTH:
        raise InputError(None, f"nests deeper than {max_depth} levels")
    try:
        value = _decode(text)
    except RecursionError:
        raise InputError(None, f"nests deeper than {max_depth} levels") from None
    except json.JSONDecodeError as err:
        raise InputError(None, f"is not valid JSON ({err.msg})") from None
    except InputError:
        raise
    except ValueError:  # an integer literal of more than sys.get_int_max_str_digits() digits
        raise InputError(None, "a number has too many digits") from None
    escaped = "\\u" in text
    if escaped or deep:
        try:
            _check_tree(value, "", 0, strings=escaped, max_depth=max_depth)
        except InputError as err:
            raise InputError(err.field, err.problem, value) from None
    return value


def dump_json(value: Any) -> str:
    """Compact JSON, UTF-8 as is; NaN and Infinity refused (``ValueError``): never invalid."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def dump_plain_json(value: dict[str, Any]) -> str:
    """``dump_json`` for values of strings, integers, booleans, None, lists and dicts only (no
    floats: pydantic-core would write ``NaN`` rather than refuse it, and floats in its own
    notation): the same text, from pydantic-core's encoder, in about a sixth of the time. The
    frames of every chat message take it. What it cannot encode (a lone surrogate) goes to
    ``dump_json``, which says so as it always did."""
    try:
        return to_json(value).decode()
    except PydanticSerializationError:
        return dump_json(value)
