"""The gateway's chat client against a real NATS, with stand-ins answering chat's subjects."""

import asyncio
import secrets
from collections.abc import AsyncIterator

import pytest
from switchboard_contracts import ChatMessage, ChatSendReply, ChatSendRequest, EventKind, endpoints
from switchboard_contracts.chat import ChatSendBatchReply, ChatSendBatchRequest
from switchboard_devstack.stores import Stores
from switchboard_gateway.chat.client import BatchPolicy, ChatClient
from switchboard_gateway.settings import GatewaySettings
from switchboard_runtime import Bus

pytestmark = pytest.mark.component


@pytest.fixture
async def bus(stores: Stores) -> AsyncIterator[Bus]:
    bus = Bus(GatewaySettings(nats_url=stores.nats_url), name="chat-client-test")
    await bus.connect()
    yield bus
    await bus.close()


def stored(request: ChatSendRequest, seq: int) -> ChatSendReply:
    message = ChatMessage(
        id=request.client_msg_id or "", room=request.room, seq=seq, sender_id=request.user_id,
        content=request.content, timestamp=1,
    )  # fmt: skip
    return ChatSendReply(message=message)


def requests(room: str, count: int) -> list[ChatSendRequest]:
    return [
        ChatSendRequest(room=room, user_id="al", content=f"m{i}", client_msg_id=f"c{i}")
        for i in range(count)
    ]


async def test_sends_of_one_turn_go_to_chat_as_one_batch_and_come_back_in_order(
    bus: Bus,
) -> None:
    batches: list[int] = []

    async def serve(batch: ChatSendBatchRequest) -> ChatSendBatchReply:
        batches.append(len(batch.requests))
        return ChatSendBatchReply(replies=[stored(r, i + 1) for i, r in enumerate(batch.requests)])

    subscription = await bus.serve(endpoints.CHAT_SEND_BATCH, serve)
    try:
        client = ChatClient(bus, timeout=2.0, batches=BatchPolicy(interval=0.0, max_in_flight=1))
        room = f"r-{secrets.token_hex(3)}"
        replies = await _all(client, requests(room, 5))
    finally:
        await subscription.unsubscribe()
    assert batches == [5]
    assert [r.message.seq for r in replies if r.message] == [1, 2, 3, 4, 5]


async def test_without_a_chat_serving_batches_each_send_goes_alone(bus: Bus) -> None:
    """An upgrade from a version without batches: the old chat serves only chat.cmd.send."""
    singles: list[str] = []

    async def serve(request: ChatSendRequest) -> ChatSendReply:
        singles.append(request.content)
        return stored(request, len(singles))

    subscription = await bus.serve(endpoints.CHAT_SEND, serve)
    try:
        client = ChatClient(bus, timeout=2.0, batches=BatchPolicy(interval=0.0, max_in_flight=1))
        replies = await _all(client, requests(f"r-{secrets.token_hex(3)}", 3))
    finally:
        await subscription.unsubscribe()
    assert sorted(singles) == ["m0", "m1", "m2"]
    assert all(r.message is not None for r in replies)


async def test_with_no_chat_at_all_every_send_is_answered_unavailable(bus: Bus) -> None:
    client = ChatClient(bus, timeout=0.5, batches=BatchPolicy(interval=0.0, max_in_flight=1))
    replies = await _all(client, requests(f"r-{secrets.token_hex(3)}", 2))
    assert [r.error.code.value for r in replies if r.error] == ["unavailable"] * 2


async def _all(client: ChatClient, sends: list[ChatSendRequest]) -> list[ChatSendReply]:
    return list(await asyncio.wait_for(asyncio.gather(*(client.send(r) for r in sends)), 10))


async def test_edits_and_deletions_go_alone_beside_a_batch_of_messages(bus: Bus) -> None:
    """Chat looks a change's target up first: it must not hold back a batch's acks."""
    batched: list[list[str]] = []
    singles: list[str] = []

    async def serve_batch(batch: ChatSendBatchRequest) -> ChatSendBatchReply:
        batched.append([r.content for r in batch.requests])
        return ChatSendBatchReply(replies=[stored(r, i + 1) for i, r in enumerate(batch.requests)])

    async def serve_one(request: ChatSendRequest) -> ChatSendReply:
        singles.append(request.content)
        return stored(request, 9)

    subscriptions = [
        await bus.serve(endpoints.CHAT_SEND_BATCH, serve_batch),
        await bus.serve(endpoints.CHAT_SEND, serve_one),
    ]
    room = f"r-{secrets.token_hex(3)}"
    change = ChatSendRequest(
        room=room, user_id="al", content="fixed", kind=EventKind.EDIT, target_id="m-1"
    )
    try:
        client = ChatClient(bus, timeout=2.0, batches=BatchPolicy(interval=0.0, max_in_flight=1))
        replies = await _all(client, [*requests(room, 2), change])
    finally:
        for subscription in subscriptions:
            await subscription.unsubscribe()
    assert (batched, singles) == ([["m0", "m1"]], ["fixed"])
    assert all(r.message is not None for r in replies)
