"""Every frame of docs/protocol.md §2, both endpoints, against two gateways.

The client -> server and server -> client tables are read from the project's docs/protocol.md,
so a frame type documented but not served (or served but not documented) fails here.
"""

import re
from pathlib import Path

import pytest
from switchboard_devstack import Stack
from switchboard_devstack.chatframes import (
    after_now,
    in_room,
    join,
    new_room,
    presence_of,
)
from switchboard_devstack.fixtures import ALL_SERVICES, stack_fixture
from switchboard_devstack.wsclient import Frame, FrameClient

pytestmark = pytest.mark.e2e

PROTOCOL = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"


def documented_types(heading: str) -> list[str]:
    """The frame types in the first column of the table under ``### <heading>``."""
    section = PROTOCOL.read_text().split(f"### {heading}", 1)[1].split("###", 1)[0]
    return sorted(set(re.findall(r"^\| `([a-z]+)` \|", section, flags=re.MULTILINE)))


stack = stack_fixture("e2e-chat-protocol", *ALL_SERVICES, "gateway-2")


async def test_every_client_frame_on_ws_gets_its_documented_effect(stack: Stack) -> None:
    room = new_room()
    one, two = stack["gateway"].ws_url, stack["gateway-2"].ws_url
    async with (
        FrameClient(f"{one}/ws?userId=alice") as alice,
        FrameClient(f"{two}/ws?userId=bob") as bob,
    ):
        greeting = await alice.wait_for("notification")
        assert greeting["payload"]["message"] == "Connected successfully"
        assert greeting["payload"]["clientId"]

        await alice.send(join(room))
        await alice.wait_for("presence", presence_of({"alice"}, room))
        await bob.send(join(room))
        await bob.wait_for("presence", presence_of({"alice", "bob"}, room))
        await alice.wait_for("presence", presence_of({"alice", "bob"}, room))

        await alice.send(
            {"type": "chat", "payload": {"content": "hi", "clientMsgId": "c1", "room": room}}
        )
        ack = await alice.wait_for("ack")
        at_bob = await bob.wait_for("chat")
        assert ack["payload"] == {"clientMsgId": "c1", "id": at_bob["id"], "seq": 1, "room": room}
        assert (at_bob["room"], at_bob["senderId"], at_bob["payload"]["content"]) == (
            room,
            "alice",
            "hi",
        )

        await alice.send({"type": "typing", "payload": {"isTyping": True, "room": room}})
        typing = await bob.wait_for("typing")
        assert (typing["room"], typing["payload"]) == (room, {"userId": "alice", "isTyping": True})

        await alice.send({"type": "presence", "payload": {"status": "away", "room": room}})
        seen = await bob.wait_for(
            "presence",
            lambda f: any(u.get("status") == "away" for u in f["payload"]["onlineUsers"]),
        )
        [entry] = [u for u in seen["payload"]["onlineUsers"] if u["userId"] == "alice"]
        assert entry["status"] == "away"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["connectedAt"])

        await bob.send({"type": "history", "payload": {"room": room, "limit": 10}})
        history = await bob.wait_for("history")
        assert history["payload"]["room"] == room
        assert [m["id"] for m in history["payload"]["messages"]] == [at_bob["id"]]
        assert history["payload"]["hasMore"] is False

        await bob.send({"type": "ping", "payload": {"n": 1}, "sentAt": 42})
        pong = await bob.wait_for("pong")
        assert (pong["payload"], pong["sentAt"]) == ({"n": 1}, 42)

        await alice.send({"type": "leave", "payload": {"room": room}})
        await bob.wait_for("presence", after_now(bob, presence_of({"bob"}, room)))
        await alice.send({"type": "chat", "payload": {"content": "gone", "room": room}})
        refused = await alice.wait_for("error")
        assert refused["payload"]["code"] == "not_joined"
    assert not alice.of_type("typing")  # nobody is told about their own typing


async def test_every_client_frame_on_the_compatible_endpoint(stack: Stack) -> None:
    room = new_room()
    one, two = stack["gateway"].ws_url, stack["gateway-2"].ws_url
    async with (
        FrameClient(f"{one}/chat/{room}?userId=alice") as alice,
        FrameClient(f"{two}/chat/{room}?userId=bob") as bob,
    ):
        await alice.wait_for("presence", presence_of({"alice", "bob"}, room))
        await bob.wait_for("presence", presence_of({"alice", "bob"}, room))
        await bob.send({"type": "chat", "payload": {"content": "hey", "senderName": "Bob"}})
        chat = await alice.wait_for("chat")
        assert chat["payload"]["senderName"] == "Bob"
        await bob.send({"type": "typing", "payload": {"isTyping": True}})
        assert (await alice.wait_for("typing"))["payload"]["userId"] == "bob"
        await bob.send({"type": "presence", "payload": {"mood": "happy"}})
        await alice.wait_for(
            "presence", lambda f: any(u.get("mood") == "happy" for u in f["payload"]["onlineUsers"])
        )
        await alice.send({"type": "history", "payload": {}})
        assert (await alice.wait_for("history"))["payload"]["messages"][0]["id"] == chat["id"]
        await alice.send({"type": "ping"})
        await alice.wait_for("pong")
        await alice.send(join("elsewhere"))
        unsupported = await alice.wait_for("error")
        assert unsupported["payload"]["code"] == "unsupported"
        await alice.send({"type": "leave", "payload": {"room": room}})
        await alice.wait_for("error", lambda f: f["payload"]["message"].startswith("leave"))


@pytest.mark.parametrize(
    ("frame", "code", "names"),
    [
        ({"type": "dance"}, "unknown_type", "dance"),
        ({"payload": {}}, "invalid_frame", "type"),
        ({"type": "chat", "payload": {"room": "r"}}, "invalid_frame", "payload.content"),
        ({"type": "chat", "payload": {"content": "x"}}, "invalid_frame", "payload.room"),
        (
            {"type": "typing", "payload": {"isTyping": "yes", "room": "r"}},
            "invalid_frame",
            "isTyping",
        ),
        ({"type": "join", "payload": {}}, "invalid_frame", "payload.room"),
        ({"type": "join", "payload": {"room": "no.dots"}}, "invalid_room", "room id"),
        ({"type": "join", "payload": {"room": "r", "since": "5"}}, "invalid_frame", "since"),
        ({"type": "leave", "payload": {"room": "not-joined"}}, "not_joined", "not-joined"),
        ({"type": "history", "payload": {"room": "r", "limit": 1000}}, "invalid_frame", "limit"),
        ({"type": "presence", "payload": {"room": "r", "userId": "x"}}, "invalid_frame", "userId"),
        ({"type": "chat", "payload": "text"}, "invalid_frame", "payload"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
async def test_a_bad_frame_gets_an_error_naming_the_problem_and_the_connection_stays_usable(
    stack: Stack, frame: Frame, code: str, names: str
) -> None:
    async with FrameClient(f"{stack['gateway'].ws_url}/ws?userId=alice") as alice:
        await alice.send(frame)
        error = await alice.wait_for("error")
        await alice.send({"type": "ping", "n": 1})
        await alice.wait_for("pong")
    assert error["payload"]["code"] == code
    assert names in error["payload"]["message"]
    assert not alice.of_type("notification")[1:]  # the compatible extra is for /chat only


async def test_joining_twice_is_an_error_and_chat_on_ws_needs_a_room(stack: Stack) -> None:
    room = new_room()
    async with FrameClient(f"{stack['gateway'].ws_url}/ws?userId=alice") as alice:
        await alice.send(join(room))
        await alice.wait_for("presence")
        await alice.send(join(room))
        again = await alice.wait_for("error")
        await alice.send({"type": "chat", "payload": {"content": "x", "clientMsgId": "c"}})
        roomless = await alice.wait_for("error", lambda f: f["payload"]["ref"] == "c")
    assert (again["payload"]["code"], again["payload"]["ref"]) == ("already_joined", room)
    assert roomless["payload"]["code"] == "invalid_frame"


async def test_one_ws_connection_is_in_several_rooms_and_frames_name_their_room(
    stack: Stack,
) -> None:
    rooms = [new_room(), new_room()]
    async with FrameClient(f"{stack['gateway'].ws_url}/ws?userId=alice") as alice:
        for room in rooms:
            await alice.send(join(room))
            await alice.wait_for("presence", in_room(room))
        for n, room in enumerate(rooms):
            await alice.send({"type": "chat", "payload": {"content": f"to {n}", "room": room}})
        for n, room in enumerate(rooms):
            chat = await alice.wait_for("chat", in_room(room))
            assert chat["payload"]["content"] == f"to {n}"
            assert chat["seq"] == 1


async def test_the_documented_frame_types_are_the_served_ones(stack: Stack) -> None:
    """Sends one frame of every documented client type; every documented server type is seen."""
    room = new_room()
    examples: dict[str, Frame] = {
        "join": join(room),
        "chat": {"type": "chat", "payload": {"content": "doc", "room": room, "clientMsgId": "c"}},
        "typing": {"type": "typing", "payload": {"isTyping": True, "room": room}},
        "presence": {"type": "presence", "payload": {"away": True, "room": room}},
        "history": {"type": "history", "payload": {"room": room}},
        "ping": {"type": "ping", "payload": {}},
        "read": {"type": "read", "payload": {"room": room, "seq": 1}},
        "leave": {"type": "leave", "payload": {"room": room}},
    }
    # edit, versions, reactions and delete name the chat's message: built once its ack gives
    # the id
    changes = ["edit", "versions", "react", "unreact", "delete"]
    # `auth` (both ways) needs AUTH_ENABLED: tests/e2e/test_edge_auth.py sends it and sees it.
    client_types = [kind for kind in documented_types("Client → server") if kind != "auth"]
    assert sorted([*examples, *changes]) == client_types
    async with (
        FrameClient(f"{stack['gateway'].ws_url}/ws?userId=alice") as alice,
        FrameClient(f"{stack['gateway'].ws_url}/ws?userId=bob") as bob,
    ):
        await bob.send(join(room))
        await bob.wait_for("presence")
        for kind in ["join", "chat", "typing", "presence", "history", "ping"]:
            await alice.send(examples[kind])
        await alice.wait_for("pong")
        # Answered once chat and persistence have done their part, maybe after the pong.
        message_id = (await alice.wait_for("ack"))["payload"]["id"]
        await alice.send(examples["read"])
        await bob.wait_for("read", lambda f: f["payload"]["userId"] == "alice")
        target = {"room": room, "messageId": message_id}
        await alice.send({"type": "edit", "payload": {**target, "content": "doc!"}})
        await bob.wait_for("edit")
        await alice.send({"type": "versions", "payload": target})
        await alice.wait_for("versions")
        await alice.send({"type": "react", "payload": {**target, "emoji": "📖"}})
        await bob.wait_for("react")
        await alice.send({"type": "unreact", "payload": {**target, "emoji": "📖"}})
        await bob.wait_for("unreact")
        await alice.send({"type": "delete", "payload": target})
        await alice.send(examples["leave"])
        await alice.send({"type": "no-such-type"})
        await alice.send(join(room, since=0))
        await alice.wait_for("replay")
        await bob.wait_for("typing")
        await alice.wait_for("history")
        await bob.wait_for("chat")
        await bob.wait_for("delete")
    served = {f["type"] for f in alice.frames + bob.frames}
    assert not [f for f in alice.of_type("error") if f["payload"]["code"] == "unknown_type"][1:]
    assert served == set(documented_types("Server → client")) - {"auth"}
