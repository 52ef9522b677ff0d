"""The input rule on HTTP requests: paths, query parameters, headers and bodies."""

import pytest
from starlette.requests import HTTPConnection
from switchboard_contracts import BusError, ErrorCode
from switchboard_contracts.input_rules import INT64_MAX
from switchboard_gateway.edge.http_input import (
    Problem,
    bus_error_response,
    decode_json,
    int_param,
    request_problem,
)


def connection(
    path: str = "/api/rooms", query: bytes = b"", headers: list[tuple[bytes, bytes]] | None = None
) -> HTTPConnection:
    return HTTPConnection(
        {"type": "http", "path": path, "query_string": query, "headers": headers or []}
    )


def test_an_ordinary_request_follows_the_rule() -> None:
    found = connection(
        query=b"before=5&userId=%C3%A9t%C3%A9",
        headers=[(b"authorization", b"Bearer abc"), (b"last-event-id", b"7")],
    )
    assert request_problem(found) is None


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (connection(path="/api/rooms/a\x00b/messages"), "path"),
        (connection(query=b"before=%00"), "before"),
        (connection(query=b"lastEventId=1%002"), "lastEventId"),
        (connection(headers=[(b"cookie", b'access_token="\\000"')]), "access_token"),
        (connection(headers=[(b"last-event-id", b"\x00")]), "last-event-id"),
    ],
)
def test_a_nul_anywhere_we_read_is_refused_naming_where(
    request_: HTTPConnection, field: str
) -> None:
    problem = request_problem(request_)
    assert problem is not None
    assert (problem.status, problem.field) == (400, field)
    assert "NUL" in problem.message


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(None, 50), ("1", 1), (" 100 ", 100), (str(INT64_MAX), INT64_MAX)],
)
def test_integers_within_their_range_parse(raw: str | None, expected: int) -> None:
    params = {} if raw is None else {"before": raw}
    assert int_param(params, "before", 50, 1, INT64_MAX) == expected


@pytest.mark.parametrize(
    "raw",
    ["0", str(INT64_MAX + 1), str(2**64), "9" * 5000, "1_000", "\u0663", "1.5", "", "-", "x"],
)
def test_integers_outside_their_range_or_not_plain_digits_are_named(raw: str) -> None:
    problem = int_param({"before": raw}, "before", None, 1, 2**70)
    assert isinstance(problem, Problem)
    assert (problem.status, problem.field) == (400, "before")
    assert "before" in problem.message


@pytest.mark.parametrize(
    "raw",
    [b"{nope", b"\xff\xfe", b"[" * 50_000, b'{"a": 1e999}', b'{"a": NaN}', b"[" * 33 + b"]" * 33],
)
def test_bodies_that_are_not_json_under_the_rule_get_400(raw: bytes) -> None:
    problem = decode_json(raw, "the body must be JSON")
    assert isinstance(problem, Problem)
    assert problem.status == 400
    assert problem.message.startswith("the body must be JSON: ")


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b'{"title": "a\\u0000b"}', "title"),
        (b'{"name": "\\ud800"}', "name"),
        (b'{"members": ["ok", "\\udfff"]}', "members[1]"),
    ],
)
def test_a_string_that_breaks_the_rule_gets_422_naming_its_field(raw: bytes, field: str) -> None:
    problem = decode_json(raw, "the body must be JSON")
    assert isinstance(problem, Problem)
    assert (problem.status, problem.field) == (422, field)


def test_bus_errors_map_to_one_status_each() -> None:
    statuses = {
        code: bus_error_response(BusError(code=code, message="m")).status_code for code in ErrorCode
    }
    assert statuses[ErrorCode.UNAVAILABLE] == 503
    assert statuses[ErrorCode.CONFLICT] == 409
    assert statuses[ErrorCode.NOT_FOUND] == 404
    assert statuses[ErrorCode.INVALID_INPUT] == 422
    assert statuses[ErrorCode.INTERNAL] == 500
