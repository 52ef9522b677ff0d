"""The input rule on HTTP (docs/protocol.md, "Input rules"), and how every HTTP error is answered.

``switchboard_contracts.input_rules`` says what text may enter; this module applies it to what an
HTTP request carries, before anything is forwarded or acknowledged:

- ``request_problem``: the path, every query parameter (name and value) and the headers the
  gateway reads (``Authorization``, ``Cookie``, ``Last-Event-ID``); the edge guard asks it for
  every ``/api/`` request, so no handler can forget it. 400 naming the parameter.
- ``read_json``: a body, read no further than its limit and decoded with ``load_json``: 413 when
  larger, 400 when it is not JSON (or not UTF-8, nests deeper than 32, holds a number out of
  range), 422 naming the field whose string breaks the rule.
- ``int_param``: an integer query parameter within its range (at most int64): 400 naming it.

Every refusal is a ``Problem``; ``problem_response``, ``error_response`` and ``bus_error_response``
are the one mapping to HTTP: ``{"error": "<what is wrong>", "field"?: "<where>"}``.
"""

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse
from switchboard_contracts import BusError, ErrorCode
from switchboard_contracts.input_rules import INT64_MAX, InputError, load_json, text_problem

__all__ = [
    "CHECKED_HEADERS",
    "NOT_JSON",
    "Problem",
    "ReadableRoom",
    "bus_error_response",
    "decode_json",
    "error_response",
    "int_param",
    "problem_response",
    "read_json",
    "request_problem",
]

NOT_JSON = "the body must be JSON"
"""The answer to a body that is not JSON where a route takes one."""

ReadableRoom = Callable[[Request], Awaitable[tuple[str, str] | JSONResponse]]
"""The path's room and the requesting user, when the user may read the room; else the answer."""

CHECKED_HEADERS = ("authorization", "cookie", "last-event-id")
"""The request headers the gateway reads a value from (the token, its cookie, a resume cursor)."""
TOKEN_COOKIE = "access_token"  # noqa: S105 (a cookie name, not a secret)

_BUS_STATUS = {
    ErrorCode.INVALID_FRAME: 422,
    ErrorCode.INVALID_CONTENT: 422,
    ErrorCode.CONTENT_TOO_LONG: 422,
    ErrorCode.INVALID_INPUT: 422,
    ErrorCode.INVALID_USER: 400,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.CONFLICT: 409,
    ErrorCode.UNAVAILABLE: 503,
}


@dataclass(frozen=True)
class Problem:
    """Why a request is refused: the message, the field at fault (if one is) and the status."""

    message: str
    field: str | None = None
    status: int = 422


def error_response(status: int, message: str, field: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"error": message}
    if field is not None:
        body["field"] = field
    return JSONResponse(body, status_code=status)


def problem_response(problem: Problem) -> JSONResponse:
    return error_response(problem.status, problem.message, problem.field)


def bus_error_response(error: BusError) -> JSONResponse:
    """A service's refusal, as the HTTP status the protocol gives its code (500 for the rest)."""
    return error_response(_BUS_STATUS.get(error.code, 500), error.message)


def _shown(value: str) -> str:
    """A refused value as it may be echoed back: short, and never itself breaking the rule."""
    return repr(value[:40]).encode("utf-8", "backslashreplace").decode()


def request_problem(connection: HTTPConnection) -> Problem | None:
    """What in the request's path, query or read headers breaks the input rule, or None."""
    problem = text_problem(connection.scope.get("path", ""))
    if problem is not None:
        return Problem(f"the path {problem}", "path", 400)
    for name, value in connection.query_params.multi_items():
        problem = text_problem(name)
        if problem is not None:
            return Problem(f"a query parameter's name {problem}", _shown(name), 400)
        problem = text_problem(value)
        if problem is not None:
            return Problem(f"{name} {problem}", name, 400)
    for header in CHECKED_HEADERS:
        for value in connection.headers.getlist(header):
            problem = text_problem(value)
            if problem is not None:
                return Problem(f"the {header} header {problem}", header, 400)
    token = connection.cookies.get(TOKEN_COOKIE)  # unquoted: "\\000" is a NUL by now
    if token is not None and (problem := text_problem(token)) is not None:
        return Problem(f"the {TOKEN_COOKIE} cookie {problem}", TOKEN_COOKIE, 400)
    return None


def int_param(
    params: Mapping[str, str], name: str, default: int | None, low: int, high: int
) -> int | Problem | None:
    """The integer query parameter ``name`` within ``low``..``high`` (never beyond int64)."""
    raw = params.get(name)
    if raw is None:
        return default
    high = min(high, INT64_MAX)
    text = raw.strip()
    # int() would also take "1_000", "٣" and 4,300 digits; a parameter is plain ASCII digits.
    digits = text[1:] if text[:1] in "+-" else text
    if not (digits.isascii() and digits.isdigit()):
        return Problem(f"{name} must be an integer (got {_shown(raw)})", name, 400)
    if len(digits) > 19 or not low <= (value := int(text)) <= high:
        return Problem(f"{name} must be between {low} and {high}", name, 400)
    return value


def decode_json(raw: bytes, not_json: str) -> Any | Problem:
    """A body decoded under the input rule; ``not_json`` starts the 400 message (each route's
    wording) for a body that is not JSON, not UTF-8, too deep or has a number out of range."""
    try:
        return load_json(raw)
    except InputError as err:
        if err.document is None or err.problem.startswith("nests deeper"):
            return Problem(f"{not_json}: the body {err.problem}", None, 400)
        return Problem(str(err), err.field, 422)


async def read_json(request: Request, max_bytes: int, not_json: str) -> Any | Problem:
    """The request's JSON document, read no further than ``max_bytes``, under the input rule."""
    too_large = Problem(f"the body must be at most {max_bytes} bytes", None, 413)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        return too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            return too_large
        chunks.append(chunk)
    return decode_json(b"".join(chunks), not_json)
