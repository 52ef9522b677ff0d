"""Hostile input over HTTP (issue 16) gets the documented refusal naming the field, and harms
nobody: afterwards an ordinary room create, notification send and history read succeed, and the
notification is in the inbox and in PostgreSQL. Auth on, real NATS and PostgreSQL.

docs/protocol.md, "Input rules": a body that is not JSON (or not UTF-8, too deep, a number out
of range) gets 400; a string in it with NUL or a lone surrogate gets 422 naming the field; a
query parameter or a header we read that breaks the rule, or an integer beyond its range, 400
naming the parameter.
"""

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from switchboard_contracts.input_rules import INT64_MAX
from switchboard_devstack.chatframes import acknowledges, chat, join, joined, new_room
from switchboard_devstack.fixtures import stack_fixture
from switchboard_devstack.names import new_user
from switchboard_devstack.polling import stored_rows
from switchboard_devstack.stack import ServiceHandle
from switchboard_devstack.still_works import StillWorks
from switchboard_devstack.stores import Stores
from switchboard_devstack.tokens import auth_env, bearer, mint, service
from switchboard_devstack.wsclient import FrameClient

pytestmark = pytest.mark.e2e

SCOPES = ("notifications:send", "notifications:broadcast", "rooms:manage")
JSON = {"Content-Type": "application/json"}
TITLES_OF = "SELECT title FROM notifications WHERE user_id = $1 ORDER BY cursor"

stack = stack_fixture(
    "e2e-hostile-http",
    "persistence",
    "chat",
    "notification",
    "gateway",
    env_of={"gateway": auth_env()},
)


@pytest.fixture
async def http(gateway: ServiceHandle) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=gateway.url, timeout=15) as client:
        yield client


def refused(response: httpx.Response, status: int, field: str | None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert isinstance(body["error"], str)
    assert body.get("field") == field, body
    return body


async def ordinary_traffic_works(
    http: httpx.AsyncClient, gateway: ServiceHandle, database_url: str, still_works: StillWorks
) -> None:
    """A room is created, a notification is sent, listed and stored, a message is in history."""
    room = new_room()
    created = await http.post(
        "/api/rooms", json={"id": room, "name": "after the storm"}, headers=bearer("alice")
    )
    assert created.status_code == 201, created.text
    user = new_user()
    sent = await http.post(
        "/api/notifications/send",
        json={"userId": user, "title": "still here", "message": "fine"},
        headers=service(*SCOPES),
    )
    assert sent.status_code == 200, sent.text
    started = time.monotonic()
    inbox = await http.get("/api/notifications", headers=bearer(user))
    assert inbox.status_code == 200, inbox.text
    assert time.monotonic() - started < 2  # a poisoned PostgreSQL batch made this wait ~3 s
    assert [n["title"] for n in inbox.json()["notifications"]] == ["still here"]
    assert await stored_rows(database_url, TITLES_OF, user) == ["still here"]
    async with FrameClient(f"{gateway.ws_url}/ws?token={mint('alice')}") as alice:
        await alice.send(join(room))
        await joined(alice, room, "alice")
        message = chat("history works", "m1")
        message["payload"]["room"] = room
        await alice.send(message)
        await alice.wait_for("ack", acknowledges("m1"))
    page = await http.get(f"/api/rooms/{room}/messages", headers=bearer("alice"))
    assert page.status_code == 200, page.text
    assert [m["payload"]["content"] for m in page.json()["messages"]] == ["history works"]
    await still_works.check()


async def test_a_nul_in_a_room_name_is_refused_naming_it(
    http: httpx.AsyncClient, gateway: ServiceHandle, stores: Stores, still_works: StillWorks
) -> None:
    room = new_room()
    answer = await http.post(
        "/api/rooms", json={"id": room, "name": "lob\x00by"}, headers=bearer("mallory")
    )
    body = refused(answer, 422, "name")
    assert "NUL" in body["error"]
    rooms = await http.get("/api/rooms", headers=bearer("mallory"))
    assert room not in [r["id"] for r in rooms.json()["rooms"]]
    await ordinary_traffic_works(http, gateway, stores.database_url, still_works)


async def test_a_nul_in_a_notification_title_is_refused_not_acknowledged(
    http: httpx.AsyncClient, gateway: ServiceHandle, stores: Stores, still_works: StillWorks
) -> None:
    user = new_user()
    answer = await http.post(
        "/api/notifications/send",
        json={"userId": user, "title": "bad\x00title", "message": "m"},
        headers=service(*SCOPES),
    )
    refused(answer, 422, "title")
    inbox = await http.get("/api/notifications", headers=bearer(user))
    assert inbox.json()["notifications"] == []
    await ordinary_traffic_works(http, gateway, stores.database_url, still_works)


@pytest.mark.parametrize(
    ("path", "raw", "field"),
    [
        (
            "/api/notifications/send",
            b'{"userId": "u1", "title": "\\ud800", "message": "m"}',
            "title",
        ),
        (
            "/api/notifications/send",
            b'{"userId": "u1", "title": "t", "message": "a\\udfffb"}',
            "message",
        ),
        ("/api/notifications/broadcast", b'{"title": "t", "message": "\\ud800"}', "message"),
        (
            "/api/notifications/broadcast",
            b'{"team": "\\udc00", "title": "t", "message": "m"}',
            "team",
        ),
        ("/api/rooms", b'{"name": "\\ud83d"}', "name"),
        ("/api/rooms", b'{"name": "ok", "members": ["bob", "\\ud800"]}', "members[1]"),
    ],
)
async def test_a_lone_surrogate_in_a_body_is_refused_naming_its_field(
    http: httpx.AsyncClient, path: str, raw: bytes, field: str, still_works: StillWorks
) -> None:
    answer = await http.post(path, content=raw, headers={**service(*SCOPES), **JSON})
    body = refused(answer, 422, field)
    assert "surrogate" in body["error"]
    await still_works.check()


@pytest.mark.parametrize("path", ["/api/notifications/send", "/api/notifications/broadcast"])
@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 50_000,
        b'{"a":' * 40 + b"1" + b"}" * 40,
        b'{"userId": "u1", "title": "t", "message": 1e999}',
        b'{"userId": "u1", "title": "t", "message": NaN}',
        b'{"userId": "u1", "title": "\xed\xa0\x80", "message": "m"}',  # an encoded surrogate
        b'{"userId": "u1", "title": "\xff", "message": "m"}',
    ],
    ids=["50000 [", "deep", "1e999", "NaN", "encoded surrogate", "not UTF-8"],
)
async def test_bodies_that_are_not_json_under_the_rule_get_400(
    http: httpx.AsyncClient, path: str, raw: bytes, still_works: StillWorks
) -> None:
    answer = await http.post(path, content=raw, headers={**service(*SCOPES), **JSON})
    body = refused(answer, 400, None)
    assert "JSON object" in body["error"]
    await still_works.check()


async def test_a_room_body_of_50000_brackets_gets_400(
    http: httpx.AsyncClient, still_works: StillWorks
) -> None:
    answer = await http.post(
        "/api/rooms", content=b"[" * 50_000, headers={**bearer("mallory"), **JSON}
    )
    refused(answer, 400, None)
    await still_works.check()


async def test_history_before_beyond_int64_is_refused_naming_before(
    http: httpx.AsyncClient, gateway: ServiceHandle, stores: Stores, still_works: StillWorks
) -> None:
    room = new_room()
    for before in (str(2**64), str(INT64_MAX + 1), "9" * 5000):
        answer = await http.get(
            f"/api/rooms/{room}/messages", params={"before": before}, headers=bearer("alice")
        )
        body = refused(answer, 400, "before")
        assert "before" in body["error"]
    top = await http.get(
        f"/api/rooms/{room}/messages", params={"before": INT64_MAX}, headers=bearer("alice")
    )
    assert top.status_code == 200, top.text
    assert top.json()["messages"] == []
    await ordinary_traffic_works(http, gateway, stores.database_url, still_works)


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/notifications", {"before": str(2**64)}, "before"),
        ("/api/notifications", {"limit": "\x00"}, "limit"),
        ("/api/notifications/poll", {"cursor": str(2**64)}, "cursor"),
        ("/api/notifications/poll", {"cursor": "1\x00"}, "cursor"),
        ("/api/notifications/poll", {"timeout": "1e999"}, "timeout"),
        ("/api/notifications/stream", {"lastEventId": "\x00"}, "lastEventId"),
        ("/api/notifications/stream", {"team": "ops\x00"}, "team"),
        ("/api/dashboard/stream", {"team": "ops", "source": "\x00"}, "source"),
        ("/api/rooms", {"userId": "a\x00"}, "userId"),
        ("/api/rooms/lobby/presence", {"x\x00": "1"}, "'x\\x00'"),
    ],
)
async def test_query_parameters_that_break_the_rule_get_400_naming_them(
    http: httpx.AsyncClient, path: str, params: dict[str, str], field: str, still_works: StillWorks
) -> None:
    answer = await http.get(path, params=params, headers=bearer("alice", teams="ops"))
    refused(answer, 400, field)
    await still_works.check()


async def test_a_nul_in_a_path_parameter_gets_400(
    http: httpx.AsyncClient, still_works: StillWorks
) -> None:
    answer = await http.get("/api/rooms/lob%00by/messages", headers=bearer("alice"))
    refused(answer, 400, "path")
    answer = await http.post("/api/notifications/n%00/read", headers=bearer("alice"))
    refused(answer, 400, "path")
    await still_works.check()


async def test_a_nul_in_the_token_cookie_gets_400_naming_it(
    http: httpx.AsyncClient, still_works: StillWorks
) -> None:
    answer = await http.get("/api/rooms", headers={"Cookie": 'access_token="a\\000b"'})
    refused(answer, 400, "access_token")
    await still_works.check()


async def test_a_resume_header_beyond_int64_resets_the_stream_as_documented(
    gateway: ServiceHandle, still_works: StillWorks
) -> None:
    """``Last-Event-ID`` that is not a cursor gets ``event: reset`` (§3), never a 5xx."""
    user = new_user()
    headers = {**bearer(user), "Last-Event-ID": str(2**64), "Accept": "text/event-stream"}
    async with (
        httpx.AsyncClient(base_url=gateway.url, timeout=15) as client,
        client.stream("GET", "/api/notifications/stream", headers=headers) as stream,
    ):
        assert stream.status_code == 200
        seen = ""
        async with asyncio.timeout(10):
            async for text in stream.aiter_text():
                seen += text
                if "event: reset" in seen or "event: ready" in seen:
                    break
    assert "event: reset" in seen
    await still_works.check()
