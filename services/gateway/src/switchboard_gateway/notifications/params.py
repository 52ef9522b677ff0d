"""Reading the notification API's bodies and query parameters. Pure: a typed value, or a
``Problem`` that names the field at fault and the status to answer with."""

import math
from collections.abc import Mapping, Sequence
from typing import Any

from switchboard_contracts.ids import InvalidIdError, validate_team_id, validate_user_id
from switchboard_contracts.input_rules import INT64_MAX
from switchboard_contracts.notify import (
    MAX_MESSAGE_LENGTH,
    MAX_TITLE_LENGTH,
    BroadcastRequest,
    NotificationType,
    NotifySendRequest,
)

from switchboard_gateway.edge.http_input import Problem, decode_json, int_param

__all__ = [
    "MAX_BODY_BYTES",
    "NOT_AN_OBJECT",
    "Problem",
    "body_object",
    "parse_body",
    "parse_bool",
    "parse_broadcast",
    "parse_cursor",
    "parse_int",
    "parse_send",
    "parse_teams",
    "parse_timeout",
]

MAX_BODY_BYTES = 64 * 1024
_TYPES = ", ".join(t.value for t in NotificationType)


NOT_AN_OBJECT = "the body must be a JSON object"


def body_object(body: Any) -> dict[str, Any] | Problem:
    """A decoded body (``http_input.read_json``) that must be a JSON object."""
    if isinstance(body, Problem):
        return body
    if not isinstance(body, dict):
        return Problem(NOT_AN_OBJECT, status=400)
    return body


def parse_body(raw: bytes) -> dict[str, Any] | Problem:
    """A whole body: a JSON object under the input rule (docs/protocol.md, "Input rules")."""
    if len(raw) > MAX_BODY_BYTES:
        return Problem(f"the body must be at most {MAX_BODY_BYTES} bytes", status=413)
    return body_object(decode_json(raw, NOT_AN_OBJECT))


def _text(body: Mapping[str, Any], name: str, max_length: int) -> str | Problem:
    value = body.get(name)
    if value is None:
        return Problem(f"{name} is required", name)
    if not isinstance(value, str):
        return Problem(f"{name} must be a string", name)
    if not value.strip():
        return Problem(f"{name} must not be empty", name)
    if len(value) > max_length:
        return Problem(f"{name} must be at most {max_length} characters (got {len(value)})", name)
    return value


def _type(body: Mapping[str, Any]) -> NotificationType | Problem:
    value = body.get("type", NotificationType.INFO.value)
    if not isinstance(value, str) or value not in NotificationType._value2member_map_:
        shown = repr(value)[:40]
        return Problem(f"type must be one of {_TYPES} (got {shown})", "type")
    return NotificationType(value)


def _content(
    body: Mapping[str, Any],
) -> tuple[NotificationType, str, str] | Problem:
    kind = _type(body)
    if isinstance(kind, Problem):
        return kind
    title = _text(body, "title", MAX_TITLE_LENGTH)
    if isinstance(title, Problem):
        return title
    message = _text(body, "message", MAX_MESSAGE_LENGTH)
    if isinstance(message, Problem):
        return message
    return kind, title, message


def parse_send(body: Mapping[str, Any]) -> NotifySendRequest | Problem:
    """``{"userId", "type", "title", "message"}``; ``type`` defaults to ``info``."""
    user_id = body.get("userId")
    if user_id is None:
        return Problem("userId is required", "userId")
    if not isinstance(user_id, str):
        return Problem("userId must be a string", "userId")
    try:
        validate_user_id(user_id)
    except InvalidIdError as err:
        return Problem(f"userId: {err}", "userId")
    content = _content(body)
    if isinstance(content, Problem):
        return content
    kind, title, message = content
    return NotifySendRequest(user_id=user_id, type=kind, title=title, message=message)


def parse_broadcast(body: Mapping[str, Any]) -> BroadcastRequest | Problem:
    """``{"team"?, "type", "title", "message"}``: without a team, to every known user."""
    team = body.get("team")
    if team is not None:
        if not isinstance(team, str):
            return Problem("team must be a string", "team")
        try:
            validate_team_id(team)
        except InvalidIdError as err:
            return Problem(str(err), "team")
    content = _content(body)
    if isinstance(content, Problem):
        return content
    kind, title, message = content
    return BroadcastRequest(team=team, type=kind, title=title, message=message)


def parse_cursor(raw: str | None) -> int | Problem | None:
    """A resume position (``Last-Event-ID``, ``lastEventId``, ``cursor``): 0 to int64's top."""
    if raw is None or raw.strip() == "":
        return None
    value = int_param({"cursor": raw}, "cursor", None, 0, INT64_MAX)
    if isinstance(value, Problem) and "between" in value.message and raw.strip()[:1] == "-":
        return Problem(f"cursor must not be negative (got {raw.strip()[:40]})", "cursor", 400)
    return value


def parse_int(
    params: Mapping[str, str], name: str, default: int | None, low: int, high: int
) -> int | Problem | None:
    return int_param(params, name, default, low, high)


def parse_bool(params: Mapping[str, str], name: str) -> bool | Problem:
    raw = params.get(name)
    if raw is None:
        return False
    value = raw.strip().lower()
    if value in {"true", "1", "yes"}:
        return True
    if value in {"false", "0", "no", ""}:
        return False
    return Problem(f"{name} must be true or false", name, 400)


def parse_timeout(params: Mapping[str, str], default: float, maximum: float) -> float | Problem:
    raw = params.get("timeout")
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        return Problem("timeout must be a number of seconds", "timeout", 400)
    if not math.isfinite(value) or not 0 <= value <= maximum:
        return Problem(f"timeout must be between 0 and {maximum:g} seconds", "timeout", 400)
    return value


def parse_teams(values: Sequence[str]) -> list[str] | Problem:
    """``team`` query parameters (repeated, or comma separated)."""
    teams: list[str] = []
    for value in values:
        for team in value.split(","):
            try:
                teams.append(validate_team_id(team.strip()))
            except InvalidIdError as err:
                return Problem(str(err), "team", 400)
    return sorted(set(teams))
