"""Hostile input at the WebSocket edge gets the documented close code and harms nobody else."""

import secrets

import pytest
from switchboard_devstack.fixtures import ALL_SERVICES, stack_fixture
from switchboard_devstack.stack import ServiceHandle
from switchboard_devstack.wsclient import FrameClient, read_until_closed
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

pytestmark = pytest.mark.e2e

FRAME_LIMIT = 4096


stack = stack_fixture(
    "e2e-hostile-input", *ALL_SERVICES, env_of={"gateway": {"WS_MAX_FRAME_BYTES": str(FRAME_LIMIT)}}
)


async def close_code_after_sending(url: str, data: str | bytes, *, text: bool) -> int | None:
    async with connect(url, max_size=None) as ws:
        await ws.recv()  # the greeting
        await ws.send(data, text=text)
        with pytest.raises(ConnectionClosed) as closed:
            await read_until_closed(ws)
    return closed.value.rcvd.code if closed.value.rcvd else None


async def test_a_frame_over_the_limit_closes_with_1009_and_others_keep_chatting(
    gateway: ServiceHandle,
) -> None:
    room = f"room-{secrets.token_hex(4)}"
    async with FrameClient(f"{gateway.ws_url}/chat/{room}?userId=bob") as bob:
        code = await close_code_after_sending(
            f"{gateway.ws_url}/chat/{room}?userId=mallory", "x" * (FRAME_LIMIT + 1), text=True
        )
        await bob.send({"type": "chat", "payload": {"content": "still fine"}})
        await bob.wait_for("ack")
    assert code == 1009


async def test_a_frame_just_under_the_limit_is_accepted(gateway: ServiceHandle) -> None:
    room = f"room-{secrets.token_hex(4)}"
    async with FrameClient(f"{gateway.ws_url}/chat/{room}?userId=alice") as alice:
        filler = "y" * (FRAME_LIMIT - 200)
        await alice.send({"type": "ping", "payload": filler})
        pong = await alice.wait_for("pong")
    assert pong["payload"] == filler


async def test_a_text_frame_that_is_not_utf8_closes_with_1007(gateway: ServiceHandle) -> None:
    room = f"room-{secrets.token_hex(4)}"
    code = await close_code_after_sending(
        f"{gateway.ws_url}/chat/{room}?userId=mallory",
        b'{"type":"chat","payload":{"content":"\xff\xfe"}}',
        text=True,
    )
    assert code == 1007
