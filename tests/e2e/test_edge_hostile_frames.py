"""Hostile WebSocket frames and handshakes from an authenticated user (issue 16), with auth on:
each gets the documented refusal (an ``error`` frame naming the field, or the HTTP status of a
refused upgrade), the connection stays usable, and afterwards (``StillWorks``) an ordinary chat
and notification are acked, delivered and stored in PostgreSQL, with no write refused.

Every frame here is sent as text exactly as a hostile client would write it (JSON escapes such as
``\\u0000`` and ``\\ud800`` included), not built by a well-behaved encoder.
"""

import asyncio
import json
from collections.abc import AsyncIterator

import nats
import pytest
from switchboard_contracts import subjects
from switchboard_devstack import Stack
from switchboard_devstack.chatframes import in_room, join, new_room
from switchboard_devstack.fixtures import ALL_SERVICES, stack_fixture
from switchboard_devstack.stack import ServiceHandle
from switchboard_devstack.still_works import StillWorks
from switchboard_devstack.stores import Stores
from switchboard_devstack.tokens import auth_env, mint
from switchboard_devstack.wsclient import Frame, FrameClient
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

pytestmark = pytest.mark.e2e


stack = stack_fixture("e2e-hostile-frames", *ALL_SERVICES, env_of={"gateway": auth_env()})


def ws_url(gateway: ServiceHandle, user: str) -> str:
    return f"{gateway.ws_url}/ws?token={mint(user)}"


@pytest.fixture
async def member(gateway: ServiceHandle) -> AsyncIterator[tuple[FrameClient, str]]:
    """Mallory, joined to a fresh room: the hostile client, whose connection must stay usable."""
    room = new_room()
    async with FrameClient(ws_url(gateway, "mallory")) as mallory:
        await mallory.send(join(room))
        await mallory.wait_for("presence", in_room(room))
        yield mallory, room


async def refused(client: FrameClient, text: str, ref: str | None) -> Frame:
    """Send ``text`` raw and wait for the next error frame, which must be about it."""
    seen = {id(frame) for frame in client.of_type("error")}
    await client.send(text)
    error = await client.wait_for("error", lambda frame: id(frame) not in seen)
    assert error["payload"]["ref"] == ref, error
    return error


def raw(kind: str, payload: object, **fields: object) -> str:
    """A frame as a hostile client writes it: ``json.dumps`` escapes NUL and lone surrogates
    as ``\\u0000`` and ``\\ud800``, exactly what the issue reported."""
    return json.dumps({"type": kind, "payload": payload, **fields})


async def test_a_nul_in_sender_name_is_refused_naming_it(
    member: tuple[FrameClient, str],
    still_works: StillWorks,
) -> None:
    mallory, room = member
    payload = {"room": room, "content": "hi", "senderName": "a\x00", "clientMsgId": "m-1"}
    error = await refused(mallory, raw("chat", payload), ref="m-1")
    assert error["payload"]["code"] == "invalid_frame"
    assert "payload.senderName" in error["payload"]["message"]
    assert "U+0000" in error["payload"]["message"]
    await still_works.check(mallory, room)


async def test_a_nul_in_client_msg_id_is_refused_with_the_type_as_ref(
    member: tuple[FrameClient, str],
    still_works: StillWorks,
) -> None:
    mallory, room = member
    payload = {"room": room, "content": "hi", "clientMsgId": "m\x00"}
    error = await refused(mallory, raw("chat", payload), ref="chat")
    assert "payload.clientMsgId" in error["payload"]["message"]
    await still_works.check(mallory, room)


@pytest.mark.parametrize(
    ("kind", "payload", "ref", "field"),
    [
        ("ping", "\ud800", "ping", "payload"),
        ("presence", {"status": "\ud800"}, "presence", "payload.status"),
        ("chat", {"content": "x\udfff", "clientMsgId": "m-2"}, "m-2", "payload.content"),
        ("typing", {"isTyping": True, "\ud800": 1}, "typing", "payload"),
    ],
    ids=["ping", "presence", "chat", "a-key"],
)
async def test_a_lone_surrogate_gets_an_error_frame_not_a_1011(
    member: tuple[FrameClient, str],
    still_works: StillWorks,
    kind: str,
    payload: object,
    ref: str,
    field: str,
) -> None:
    mallory, room = member
    if isinstance(payload, dict):
        payload = {"room": room, **payload}
    error = await refused(mallory, raw(kind, payload), ref=ref)
    assert error["payload"]["code"] == "invalid_frame"
    assert error["payload"]["message"].startswith(field)
    assert "lone surrogate" in error["payload"]["message"]
    await still_works.check(mallory, room)


async def test_deep_nesting_gets_an_error_frame_not_a_1011(
    member: tuple[FrameClient, str],
    still_works: StillWorks,
) -> None:
    mallory, room = member
    error = await refused(mallory, "[" * 20_000, ref=None)
    assert error["payload"]["code"] == "invalid_frame"
    assert "nests deeper than 32 levels" in error["payload"]["message"]
    nested = '{"type":"ping","payload":' + "[" * 40 + "]" * 40 + "}"
    error = await refused(mallory, nested, ref="ping")
    assert "nests deeper" in error["payload"]["message"]
    await still_works.check(mallory, room)


async def test_a_history_before_beyond_int64_is_refused_naming_it(
    member: tuple[FrameClient, str],
    still_works: StillWorks,
) -> None:
    mallory, room = member
    error = await refused(
        mallory,
        json.dumps({"type": "history", "payload": {"room": room, "before": 2**64}}),
        ref=room,
    )
    assert "payload.before" in error["payload"]["message"]
    await mallory.send({"type": "history", "payload": {"room": room, "before": 2**63 - 1}})
    answer = await mallory.wait_for("history", in_room(room))
    assert answer["payload"]["messages"] == []
    await still_works.check(mallory, room)


async def test_a_join_since_beyond_int64_is_refused_naming_it(
    member: tuple[FrameClient, str],
    still_works: StillWorks,
) -> None:
    mallory, room = member
    other = new_room()
    error = await refused(
        mallory, json.dumps({"type": "join", "payload": {"room": other, "since": 2**64}}), other
    )
    assert "payload.since" in error["payload"]["message"]
    await still_works.check(mallory, room)


async def test_a_number_json_cannot_hold_is_refused_and_never_echoed(
    member: tuple[FrameClient, str],
    still_works: StillWorks,
) -> None:
    mallory, room = member
    for number in ("1e999", "-1e999", "NaN", "Infinity"):
        await refused(mallory, f'{{"type":"ping","n":{number}}}', ref=None)
    await mallory.send(json.dumps({"type": "ping", "n": 2**64}))
    pong = await mallory.wait_for("pong")
    assert pong["n"] == 2**64
    for raw in mallory.frames:  # every frame the server sent was strict JSON
        json.dumps(raw, allow_nan=False)
    await still_works.check(mallory, room)


async def test_chat_refuses_a_bus_request_that_breaks_the_rule(
    stores: Stores, still_works: StillWorks
) -> None:
    """A peer that bypasses the edge (a bug, an older gateway) is refused by chat itself."""
    room = new_room()
    request = json.dumps(
        {
            "v": 1,
            "room": room,
            "user_id": "mallory",
            "content": "hi",
            "sender_name": "a\x00",
            "client_msg_id": "m-3",
        }
    )
    nc = await nats.connect(stores.nats_url)
    try:
        reply = await nc.request(subjects.CHAT_SEND, request.encode(), timeout=10)
    finally:
        await nc.close()
    answer = json.loads(reply.data)
    assert answer["error"]["code"] == "invalid_frame"
    assert "U+0000" in answer["error"]["message"]
    await still_works.check()


async def test_after_a_poisoned_chat_in_every_write_slot_storage_goes_on(
    stack: Stack, still_works: StillWorks
) -> None:
    """The case that stopped durable storage: a NUL in a chat's senderName, three times (once
    for each of persistence's write slots), then ordinary traffic, stored."""
    room = new_room()
    async with FrameClient(ws_url(stack["gateway"], "alice")) as alice:
        await alice.send(join(room))
        await alice.wait_for("presence", in_room(room))
        for attempt in range(3):
            poisoned = {
                "room": room,
                "content": "x",
                "senderName": "\x00",
                "clientMsgId": f"p{attempt}",
            }
            await refused(alice, json.dumps({"type": "chat", "payload": poisoned}), f"p{attempt}")
        await still_works.check(alice, room)


@pytest.mark.parametrize("size", [8 * 1024, 64 * 1024], ids=["8KB", "64KB"])
@pytest.mark.parametrize("where", ["query", "header"])
async def test_an_oversized_token_is_answered_at_once_and_storage_goes_on(
    gateway: ServiceHandle, still_works: StillWorks, size: int, where: str
) -> None:
    """Case 6: an upgrade whose token does not fit the request head gets 414 (request line) or
    431 (a header) at once, instead of hanging."""
    token = mint("mallory", padding="x" * size)
    url = f"{gateway.ws_url}/ws" + (f"?token={token}" if where == "query" else "")
    headers = {"Authorization": f"Bearer {token}"} if where == "header" else None
    async with asyncio.timeout(10):
        with pytest.raises(InvalidStatus) as refused_upgrade:
            async with connect(url, additional_headers=headers, open_timeout=10):
                pass
    assert refused_upgrade.value.response.status_code == (414 if where == "query" else 431)
    await still_works.check()


@pytest.mark.parametrize("query", ["since=1%00", "x%00=1"], ids=["value", "name"])
async def test_a_nul_in_the_handshake_query_is_refused_before_the_upgrade(
    gateway: ServiceHandle, still_works: StillWorks, query: str
) -> None:
    room = new_room()
    url = f"{gateway.ws_url}/chat/{room}?token={mint('mallory')}&{query}"
    with pytest.raises(InvalidStatus) as refused:
        async with connect(url, open_timeout=10):
            pass
    assert refused.value.response.status_code == 400
    assert b"U+0000" in refused.value.response.body
    await still_works.check()
