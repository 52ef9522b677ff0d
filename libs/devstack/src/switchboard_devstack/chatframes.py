"""What chat tests say to the gateway and look for in what comes back.

Frame builders (``join``, ``chat``) and predicates for ``FrameClient.wait_for`` (``in_room``,
``acknowledges``, ...), written once for every end-to-end test that speaks the chat protocol.
"""

import asyncio
import secrets
from collections.abc import Callable
from typing import Any

import httpx

from switchboard_devstack.names import new_room
from switchboard_devstack.stack import Stack
from switchboard_devstack.tokens import mint
from switchboard_devstack.wsclient import Frame, FrameClient

__all__ = [
    "ROOM_EVENT_TYPES",
    "acked",
    "acknowledges",
    "after_now",
    "chat",
    "connect_as",
    "content_is",
    "delete",
    "edit",
    "history",
    "in_room",
    "join",
    "joined",
    "new_room",
    "online",
    "presence_of",
    "react",
    "refusal",
    "room_chat",
    "room_events",
    "seq_is",
    "stored_history",
]

Predicate = Callable[[Frame], bool]


def join(room: str, since: int | None = None) -> Frame:
    payload: dict[str, object] = {"room": room}
    if since is not None:
        payload["since"] = since
    return {"type": "join", "payload": payload}


def chat(content: str, client_msg_id: str | None = None, attempt: int | None = None) -> Frame:
    payload: dict[str, str | int] = {"content": content}
    if client_msg_id is not None:
        payload["clientMsgId"] = client_msg_id
    if attempt is not None:
        payload["attempt"] = attempt
    return {"type": "chat", "payload": payload}


def online(frame: Frame) -> set[str]:
    """The users a presence frame lists as online."""
    return {user["userId"] for user in frame["payload"]["onlineUsers"]}


def presence_of(users: set[str], room: str | None = None) -> Predicate:
    """A presence frame listing exactly ``users`` online (in ``room``, when given)."""
    return lambda frame: (room is None or frame.get("room") == room) and online(frame) == users


def in_room(room: str) -> Predicate:
    return lambda frame: bool(frame["room"] == room)


def seq_is(seq: int) -> Predicate:
    return lambda frame: bool(frame["seq"] == seq)


def content_is(content: str) -> Predicate:
    return lambda frame: bool(frame["payload"]["content"] == content)


def acknowledges(client_msg_id: str) -> Predicate:
    return lambda frame: bool(frame["payload"]["clientMsgId"] == client_msg_id)


def after_now(client: FrameClient, where: Predicate) -> Predicate:
    """``where``, for frames that arrive from now on (wait_for also sees earlier ones)."""
    earlier = {id(frame) for frame in client.frames}
    return lambda frame: id(frame) not in earlier and where(frame)


async def joined(client: FrameClient, room: str, user_id: str, timeout: float = 10.0) -> None:
    """Wait until ``client`` is a member of ``room`` on its gateway: the room's presence, with
    ``user_id`` online, comes once the join is done, so what is sent from now on reaches it.
    (The greeting comes before the join; a message sent on it alone can miss a member.)"""
    await client.wait_for(
        "presence",
        lambda frame: frame.get("room") == room and user_id in online(frame),
        timeout,
    )


async def history(base_url: str, room: str) -> list[Frame]:
    """The room's history page from ``GET /api/rooms/<room>/messages``."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        response = await http.get(f"/api/rooms/{room}/messages")
    response.raise_for_status()
    messages: list[Frame] = response.json()["messages"]
    return messages


async def stored_history(
    base_url: str, room: str, count: int, timeout: float = 15.0
) -> list[Frame]:
    """The room's history once it holds ``count`` messages: they are stored after their ack,
    asynchronously, so a test reading right after the ack polls."""
    async with asyncio.timeout(timeout):
        while len(messages := await history(base_url, room)) < count:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
    return messages


# -- a room's events, over /ws with a token (the lifecycle's tests)

ROOM_EVENT_TYPES = ("chat", "edit", "delete", "react", "unreact")
"""The frames that are durable events of a room, each at its own ``seq``."""


def connect_as(stack: Stack, gateway: str, user: str, **claims: Any) -> FrameClient:
    """A ``/ws`` client of ``gateway`` with a token for ``user`` (and ``claims``)."""
    return FrameClient(f"{stack[gateway].ws_url}/ws?token={mint(user, **claims)}")


def room_events(client: FrameClient, room: str) -> list[tuple[str, int]]:
    """The (type, seq) of every event of ``room`` the client got, in arrival order."""
    return [
        (f["type"], f["seq"])
        for f in client.frames
        if f["type"] in ROOM_EVENT_TYPES and f["room"] == room
    ]


def room_chat(room: str, content: str) -> Frame:
    return {"type": "chat", "payload": {"room": room, "content": content}}


def edit(room: str, message_id: str, content: str) -> Frame:
    return {"type": "edit", "payload": {"room": room, "messageId": message_id, "content": content}}


def delete(room: str, message_id: str) -> Frame:
    return {"type": "delete", "payload": {"room": room, "messageId": message_id}}


def react(room: str, message_id: str, emoji: str, *, add: bool = True) -> Frame:
    return {
        "type": "react" if add else "unreact",
        "payload": {"room": room, "messageId": message_id, "emoji": emoji},
    }


async def acked(client: FrameClient, frame: Frame) -> Frame:
    """Send ``frame`` (with a fresh clientMsgId) and wait for its ack's payload."""
    client_msg_id = f"c-{secrets.token_hex(4)}"
    frame["payload"]["clientMsgId"] = client_msg_id
    await client.send(frame)
    ack = await client.wait_for("ack", acknowledges(client_msg_id))
    payload: Frame = ack["payload"]
    return payload


async def refusal(client: FrameClient, frame: Frame, client_msg_id: str) -> Frame:
    """Send ``frame`` with ``client_msg_id`` and wait for the error naming it; its payload."""
    frame["payload"]["clientMsgId"] = client_msg_id
    await client.send(frame)
    error = await client.wait_for("error", lambda f: f["payload"]["ref"] == client_msg_id)
    payload: Frame = error["payload"]
    return payload
