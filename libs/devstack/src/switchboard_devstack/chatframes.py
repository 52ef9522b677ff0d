"""What chat tests say to the gateway and look for in what comes back.

Frame builders (``join``, ``chat``) and predicates for ``FrameClient.wait_for`` (``in_room``,
``acknowledges``, ...), written once for every end-to-end test that speaks the chat protocol.
"""

import asyncio
from collections.abc import Callable

import httpx

from switchboard_devstack.names import new_room
from switchboard_devstack.wsclient import Frame, FrameClient

__all__ = [
    "acknowledges",
    "after_now",
    "chat",
    "content_is",
    "history",
    "in_room",
    "join",
    "joined",
    "new_room",
    "online",
    "presence_of",
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
