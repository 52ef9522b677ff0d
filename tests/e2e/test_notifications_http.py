"""Notifications over plain HTTP, driven as a client would: broadcasts to teams and to everyone,
the inbox, long-polling, and every malformed request of the contract."""

import asyncio
import time
from typing import Any

import httpx
import pytest
from switchboard_devstack import Stack
from switchboard_devstack.fixtures import ALL_SERVICES, notify_api_fixture, stack_fixture
from switchboard_devstack.names import new_id
from switchboard_devstack.notifyhttp import NotifyHttp, stream_url
from switchboard_devstack.sseclient import EventClient

pytestmark = pytest.mark.e2e


stack = stack_fixture("e2e-notifications-http", *ALL_SERVICES, "gateway-b")
api = notify_api_fixture()


def broadcast_titles(stream: EventClient) -> list[str]:
    return [n["title"] for n in stream.data_of("notification") if "broadcastId" in n]


async def test_a_team_broadcast_reaches_exactly_that_teams_streams(
    stack: Stack, api: NotifyHttp
) -> None:
    red, blue = new_id("red"), new_id("blue")
    users = {name: new_id(name) for name in ("red1", "red2", "blue1", "loner")}
    async with (
        EventClient(stream_url(stack["gateway"].url, users["red1"], team=red)) as red1,
        EventClient(
            stream_url(stack["gateway-b"].url, users["red2"], team=f"{red},{blue}")
        ) as red2,
        EventClient(stream_url(stack["gateway-b"].url, users["blue1"], team=blue)) as blue1,
        EventClient(stream_url(stack["gateway"].url, users["loner"])) as loner,
    ):
        streams = [red1, red2, blue1, loner]
        for stream in streams:
            await stream.wait_for("ready")
        team_only = await api.broadcast("for red", team=red, kind="warning")
        marker = new_id("everyone")
        await api.broadcast(marker)  # jobs are expanded in order: this one comes after
        for stream in streams:
            await stream.wait_for("notification", lambda n: n["title"] == marker)
    assert broadcast_titles(red1) == broadcast_titles(red2) == ["for red", marker]
    assert broadcast_titles(blue1) == broadcast_titles(loner) == [marker]
    [entry] = [n for n in red1.data_of("notification") if n["title"] == "for red"]
    assert entry["broadcastId"] == team_only["broadcastId"]
    assert (entry["team"], entry["type"]) == (red, "warning")


async def test_a_broadcast_lands_in_the_inbox_of_known_users_who_are_offline(
    stack: Stack, api: NotifyHttp
) -> None:
    user, team = new_id("offline"), new_id("team")
    async with EventClient(stream_url(stack["gateway"].url, user, team=team)) as stream:
        await stream.wait_for("ready")  # now the system knows the user and their team
    sent = await api.broadcast("while you were away", team=team)
    async with asyncio.timeout(10):
        while not (inbox := await api.inbox(user))["notifications"]:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
    [entry] = inbox["notifications"]
    assert entry["broadcastId"] == sent["broadcastId"]
    assert inbox["unreadCount"] == 1


async def test_the_inbox_pages_newest_first_and_filters_unread(api: NotifyHttp) -> None:
    user = new_id("inbox")
    sent = [await api.send(user, f"n{n}") for n in range(5)]
    await api.read(user, sent[3]["notificationId"])
    first = await api.inbox(user, limit=2)
    assert [n["title"] for n in first["notifications"]] == ["n4", "n3"]
    assert first["hasMore"] is True
    assert first["unreadCount"] == 4
    before = first["notifications"][-1]["cursor"]
    rest = await api.inbox(user, before=before)
    assert [n["title"] for n in rest["notifications"]] == ["n2", "n1", "n0"]
    assert rest["hasMore"] is False
    unread = await api.inbox(user, unreadOnly=True)
    assert [n["title"] for n in unread["notifications"]] == ["n4", "n2", "n1", "n0"]
    assert [n["read"] for n in (await api.inbox(user))["notifications"]] == [
        False,
        True,
        False,
        False,
        False,
    ]


async def test_long_polling_returns_what_is_after_the_cursor_at_once(api: NotifyHttp) -> None:
    user = new_id("poll")
    sent = [await api.send(user, f"n{n}") for n in range(3)]
    answer = await api.poll(user, cursor=sent[0]["cursor"], timeout=5)
    assert [n["title"] for n in answer["notifications"]] == ["n1", "n2"]
    assert answer["cursor"] == sent[2]["cursor"]
    assert answer["reset"] is False


async def test_long_polling_waits_for_the_next_notification(api: NotifyHttp) -> None:
    user = new_id("poll")
    old = await api.send(user, "old")
    waiting = asyncio.create_task(api.poll(user, cursor=old["cursor"], timeout=20))
    await asyncio.sleep(0.5)  # let the poll start waiting; correctness does not depend on it
    started = time.monotonic()
    new = await api.send(user, "new")
    answer = await waiting
    assert time.monotonic() - started < 10
    assert [n["title"] for n in answer["notifications"]] == ["new"]
    assert answer["cursor"] == new["cursor"]


async def test_long_polling_returns_an_empty_list_within_the_timeout(api: NotifyHttp) -> None:
    user = new_id("poll")
    started = time.monotonic()
    answer = await api.poll(user, timeout=1)
    elapsed = time.monotonic() - started
    assert (answer["notifications"], answer["reset"]) == ([], False)
    assert 0.9 <= elapsed < 4  # the timeout, plus a loaded machine's overhead
    # the cursor is where the next poll goes on from: the next notification, nothing before
    sent = await api.send(user, "next")
    after = await api.poll(user, cursor=answer["cursor"], timeout=5)
    assert [n["id"] for n in after["notifications"]] == [sent["notificationId"]]


async def test_long_polling_with_an_unknown_cursor_says_reset(api: NotifyHttp) -> None:
    user = new_id("poll")
    only = await api.send(user, "only")
    answer = await api.poll(user, cursor=only["cursor"] + 1000, timeout=1)
    assert answer == {"notifications": [], "cursor": only["cursor"], "reset": True}


BAD_REQUESTS: list[tuple[str, str, dict[str, Any], int, str]] = [
    # method, path, request keyword arguments, status, text the error must contain
    ("GET", "/api/notifications/stream", {}, 400, "userId is required"),
    ("GET", "/api/notifications/stream", {"params": {"userId": "a.b"}}, 400, "user id"),
    ("GET", "/api/notifications/stream", {"params": {"userId": "a", "team": "x y"}}, 400, "team"),
    ("POST", "/api/notifications/send", {"content": b"{nope"}, 400, "JSON object"),
    ("POST", "/api/notifications/send", {"json": [1, 2]}, 400, "JSON object"),
    ("POST", "/api/notifications/send", {"json": {"title": "t", "message": "m"}}, 422, "userId"),
    (
        "POST",
        "/api/notifications/send",
        {"json": {"userId": "a", "type": "urgent", "title": "t", "message": "m"}},
        422,
        "type must be one of info, warning, error, success",
    ),
    (
        "POST",
        "/api/notifications/send",
        {"json": {"userId": "a", "title": "x" * 201, "message": "m"}},
        422,
        "title must be at most 200",
    ),
    (
        "POST",
        "/api/notifications/send",
        {"json": {"userId": "a", "title": "t", "message": "x" * 5001}},
        422,
        "message must be at most 5000",
    ),
    (
        "POST",
        "/api/notifications/send",
        {"json": {"userId": "a", "title": "t", "message": "x" * 70_000}},
        413,
        "at most 65536 bytes",
    ),
    (
        "POST",
        "/api/notifications/broadcast",
        {"json": {"team": "a b", "title": "t", "message": "m"}},
        422,
        "team",
    ),
    ("POST", "/api/notifications/broadcast", {"json": {"message": "m"}}, 422, "title"),
    ("GET", "/api/notifications", {}, 400, "userId is required"),
    ("GET", "/api/notifications", {"params": {"userId": "a", "limit": "500"}}, 400, "limit"),
    ("GET", "/api/notifications", {"params": {"userId": "a", "before": "x"}}, 400, "before"),
    (
        "GET",
        "/api/notifications",
        {"params": {"userId": "a", "unreadOnly": "maybe"}},
        400,
        "unreadOnly",
    ),
    ("POST", "/api/notifications/no-such-id/read", {"params": {"userId": "a"}}, 404, "not found"),
    ("POST", "/api/notifications/bad.id/read", {"params": {"userId": "a"}}, 400, "bad.id"),
    ("POST", "/api/notifications/read-all", {}, 400, "userId is required"),
    (
        "GET",
        "/api/notifications/poll",
        {"params": {"userId": "a", "timeout": "31"}},
        400,
        "timeout",
    ),
    ("GET", "/api/notifications/poll", {"params": {"userId": "a", "cursor": "x"}}, 400, "cursor"),
]


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "named"),
    BAD_REQUESTS,
    ids=[f"{m} {p} {s} {n[:24]}" for m, p, _, s, n in BAD_REQUESTS],
)
async def test_a_malformed_request_gets_the_documented_status_and_names_the_problem(
    stack: Stack, method: str, path: str, kwargs: dict[str, Any], status: int, named: str
) -> None:
    async with httpx.AsyncClient(base_url=stack["gateway"].url, timeout=10) as http:
        response = await http.request(method, path, **kwargs)
    assert response.status_code == status
    assert named in response.json()["error"]


async def test_the_sse_contract_error_for_a_missing_user_is_exact(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack["gateway"].url, timeout=10) as http:
        response = await http.get("/api/notifications/stream")
    assert response.status_code == 400
    assert response.json() == {"error": "userId is required"}
