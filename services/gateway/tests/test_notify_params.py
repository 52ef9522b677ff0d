import pytest
from switchboard_contracts.notify import BroadcastRequest, NotificationType, NotifySendRequest
from switchboard_gateway.notifications import params
from switchboard_gateway.notifications.params import Problem


def test_a_valid_send_body_parses() -> None:
    parsed = params.parse_send({"userId": "alice", "type": "error", "title": "t", "message": "m"})
    assert parsed == NotifySendRequest(
        user_id="alice", type=NotificationType.ERROR, title="t", message="m"
    )


def test_type_defaults_to_info() -> None:
    parsed = params.parse_send({"userId": "alice", "title": "t", "message": "m"})
    assert isinstance(parsed, NotifySendRequest)
    assert parsed.type is NotificationType.INFO


@pytest.mark.parametrize(
    ("body", "field", "named"),
    [
        ({"type": "info", "title": "t", "message": "m"}, "userId", "userId is required"),
        ({"userId": 5, "title": "t", "message": "m"}, "userId", "userId"),
        ({"userId": "a.b", "title": "t", "message": "m"}, "userId", "user id"),
        ({"userId": "a", "type": "urgent", "title": "t", "message": "m"}, "type", "urgent"),
        ({"userId": "a", "type": 3, "title": "t", "message": "m"}, "type", "one of"),
        ({"userId": "a", "message": "m"}, "title", "title is required"),
        ({"userId": "a", "title": "  ", "message": "m"}, "title", "empty"),
        ({"userId": "a", "title": "x" * 201, "message": "m"}, "title", "200"),
        ({"userId": "a", "title": "t"}, "message", "message is required"),
        ({"userId": "a", "title": "t", "message": ["m"]}, "message", "string"),
        ({"userId": "a", "title": "t", "message": "x" * 5001}, "message", "5000"),
    ],
)
def test_bad_send_bodies_name_the_field(body: dict[str, object], field: str, named: str) -> None:
    problem = params.parse_send(body)
    assert isinstance(problem, Problem)
    assert (problem.status, problem.field) == (422, field)
    assert named in problem.message


def test_the_limits_themselves_are_accepted() -> None:
    body = {"userId": "a", "title": "x" * 200, "message": "y" * 5000}
    assert isinstance(params.parse_send(body), NotifySendRequest)


def test_a_broadcast_needs_no_team_but_a_bad_team_is_named() -> None:
    to_everyone = params.parse_broadcast({"title": "t", "message": "m"})
    assert isinstance(to_everyone, BroadcastRequest)
    assert to_everyone.team is None
    problem = params.parse_broadcast({"team": "red team", "title": "t", "message": "m"})
    assert isinstance(problem, Problem)
    assert problem.field == "team"


@pytest.mark.parametrize(
    ("raw", "status"), [(b"not json", 400), (b"[1]", 400), (b"x" * 70_000, 413)]
)
def test_bodies_that_are_not_a_json_object_are_refused(raw: bytes, status: int) -> None:
    problem = params.parse_body(raw)
    assert isinstance(problem, Problem)
    assert problem.status == status


@pytest.mark.parametrize(("raw", "expected"), [(None, None), ("", None), ("0", 0), (" 12 ", 12)])
def test_cursors_parse(raw: str | None, expected: int | None) -> None:
    assert params.parse_cursor(raw) == expected


@pytest.mark.parametrize("raw", ["abc", "-1", "1.5"])
def test_bad_cursors_are_named(raw: str) -> None:
    problem = params.parse_cursor(raw)
    assert isinstance(problem, Problem)
    assert "cursor" in problem.message


@pytest.mark.parametrize(
    ("raw", "named"), [("31", "between 0 and 30"), ("soon", "number"), ("nan", "between")]
)
def test_poll_timeouts_are_bounded(raw: str, named: str) -> None:
    problem = params.parse_timeout({"timeout": raw}, 25, 30)
    assert isinstance(problem, Problem)
    assert problem.status == 400
    assert named in problem.message


def test_booleans_and_integers_name_the_parameter() -> None:
    assert params.parse_bool({"unreadOnly": "true"}, "unreadOnly") is True
    bad_bool = params.parse_bool({"unreadOnly": "maybe"}, "unreadOnly")
    assert isinstance(bad_bool, Problem)
    assert "unreadOnly" in bad_bool.message
    bad_int = params.parse_int({"limit": "500"}, "limit", 20, 1, 100)
    assert isinstance(bad_int, Problem)
    assert "limit" in bad_int.message


def test_teams_come_from_repeated_or_comma_separated_parameters() -> None:
    assert params.parse_teams(["red,blue", "green", "red"]) == ["blue", "green", "red"]
    problem = params.parse_teams(["red", "bad team"])
    assert isinstance(problem, Problem)
    assert problem.field == "team"
