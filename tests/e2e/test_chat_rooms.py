"""Rooms over HTTP, and private rooms refusing non-members on every path in."""

import httpx
import pytest
from switchboard_devstack import Stack
from switchboard_devstack.chatframes import new_room
from switchboard_devstack.fixtures import stack_fixture
from switchboard_devstack.wsclient import FrameClient
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

pytestmark = pytest.mark.e2e


stack = stack_fixture("e2e-chat-rooms", "persistence", "notification", "chat", "gateway")


@pytest.fixture
async def http(stack: Stack) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=stack["gateway"].url, timeout=10)


async def test_a_created_room_is_public_by_default_and_listed(http: httpx.AsyncClient) -> None:
    room = new_room()
    async with http:
        created = await http.post("/api/rooms?userId=alice", json={"id": room, "name": " Lobby "})
        listed = (await http.get("/api/rooms?userId=bob")).json()["rooms"]
    assert created.status_code == 201
    body = created.json()
    assert (body["id"], body["name"], body["private"], body["createdBy"]) == (
        room,
        "Lobby",
        False,
        "alice",
    )
    assert body["createdAt"] > 0
    assert room in [r["id"] for r in listed]


async def test_a_room_without_an_id_gets_one(http: httpx.AsyncClient) -> None:
    async with http:
        created = await http.post("/api/rooms?userId=alice", json={"name": "Anonymous"})
    assert created.status_code == 201
    assert created.json()["id"].startswith("room-")


async def test_creating_a_room_twice_is_a_conflict(http: httpx.AsyncClient) -> None:
    room = new_room()
    async with http:
        await http.post("/api/rooms?userId=alice", json={"id": room, "name": "x"})
        again = await http.post("/api/rooms?userId=bob", json={"id": room, "name": "y"})
    assert again.status_code == 409
    assert room in again.json()["error"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": 5}, "name"),
        ({"name": "x", "id": "has.dot"}, "id"),
        ({"name": "x", "private": "yes"}, "private"),
        ({"name": "x", "members": "bob"}, "members"),
        ({"name": "x", "members": ["bad user"]}, "members"),
    ],
)
async def test_bad_room_fields_get_422_naming_the_field(
    http: httpx.AsyncClient, body: dict[str, object], field: str
) -> None:
    async with http:
        response = await http.post("/api/rooms?userId=alice", json=body)
    assert response.status_code == 422
    assert response.json()["field"] == field
    assert field in response.json()["error"]


async def test_a_body_that_is_not_json_is_refused(http: httpx.AsyncClient) -> None:
    async with http:
        response = await http.post("/api/rooms?userId=alice", content=b"{nope")
    assert response.status_code == 400


async def test_a_private_room_refuses_non_members_on_every_path(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    room = new_room()
    ws = stack["gateway"].ws_url
    async with http:
        created = await http.post(
            "/api/rooms?userId=alice",
            json={"id": room, "name": "Secret", "private": True, "members": ["bob"]},
        )
        assert created.json()["members"] == ["alice", "bob"]
        listed_for_mallory = (await http.get("/api/rooms?userId=mallory")).json()["rooms"]
        listed_for_bob = (await http.get("/api/rooms?userId=bob")).json()["rooms"]
        history = await http.get(f"/api/rooms/{room}/messages?userId=mallory")
        presence = await http.get(f"/api/rooms/{room}/presence?userId=mallory")
        member_history = await http.get(f"/api/rooms/{room}/messages?userId=bob")

    with pytest.raises(InvalidStatus) as refused:
        await connect(f"{ws}/chat/{room}?userId=mallory", open_timeout=10)
    assert refused.value.response.status_code == 403
    assert b"private" in refused.value.response.body

    async with FrameClient(f"{ws}/ws?userId=mallory") as mallory:
        await mallory.send({"type": "join", "payload": {"room": room}})
        error = await mallory.wait_for("error")
        await mallory.send({"type": "history", "payload": {"room": room}})
        history_error = await mallory.wait_for("error", lambda f: f is not error)
        await mallory.send({"type": "chat", "payload": {"content": "let me in", "room": room}})
        chat_error = await mallory.wait_for("error", lambda f: f["payload"]["code"] == "not_joined")
    assert (error["payload"]["code"], error["payload"]["ref"]) == ("forbidden", room)
    assert history_error["payload"]["code"] == "forbidden"
    assert chat_error["payload"]["ref"] is None

    async with (
        FrameClient(f"{ws}/chat/{room}?userId=bob") as bob,
        FrameClient(f"{ws}/ws?userId=alice") as alice,
    ):
        await alice.send({"type": "join", "payload": {"room": room}})
        await alice.wait_for("presence", lambda f: f["payload"]["count"] == 2)
        await bob.send({"type": "chat", "payload": {"content": "members only"}})
        await alice.wait_for("chat")

    assert room not in [r["id"] for r in listed_for_mallory]
    assert room in [r["id"] for r in listed_for_bob]
    assert history.status_code == presence.status_code == 403
    assert member_history.status_code == 200
