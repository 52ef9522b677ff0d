"""Inline subscriptions on a real NATS: handled on the read loop, in order, with no task or
queue of their own; and the nats-py internals they rely on, pinned."""

import ast
import asyncio
import inspect
import logging
import secrets
import textwrap

import nats
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from switchboard_devstack.stores import Stores
from switchboard_runtime.patches.natspy_inline_dispatch import (
    InlineQueue,
    handle_inline,
    subscribe_inline,
)

WAIT = 5.0


def _calls(function: object, attribute: str) -> list[str]:
    """The ``<x>.<attribute>.<method>(...)`` calls in ``function``'s source: the methods called
    on ``attribute``."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))  # type: ignore[arg-type]
    return [
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Attribute)
        and node.func.value.attr == attribute
    ]


def test_nats_py_hands_every_message_to_the_subscription_s_queue() -> None:
    """The read loop queues a message with ``put_nowait`` and nothing else (an upgrade that
    changes this must fail here, not lose messages)."""
    assert _calls(Client._process_msg, "_pending_queue") == ["put_nowait"]


def test_nats_py_calls_only_what_the_stand_in_offers() -> None:
    offered = {name for name in dir(InlineQueue) if not name.startswith("_")}
    pending_msgs = inspect.getattr_static(Subscription, "pending_msgs").fget
    for method in (Subscription.unsubscribe, Subscription._drain, pending_msgs):
        assert set(_calls(method, "_pending_queue")) <= offered, method


class Received:
    def __init__(self, expected: int) -> None:
        self.messages: list[Msg] = []
        self.expected = expected
        self.all_in = asyncio.Event()

    def __call__(self, msg: Msg) -> None:
        self.messages.append(msg)
        if len(self.messages) >= self.expected:
            self.all_in.set()

    async def wait(self) -> list[bytes]:
        await asyncio.wait_for(self.all_in.wait(), WAIT)
        return [msg.data for msg in self.messages]


def subject() -> str:
    return f"test.inline.{secrets.token_hex(4)}"


@pytest.mark.component
async def test_messages_reach_the_handler_in_order_without_a_task(nc: Client) -> None:
    tasks_before = len(asyncio.all_tasks())
    received = Received(expected=200)
    subscriptions = [await subscribe_inline(nc, subject(), received) for _ in range(50)]
    assert len(asyncio.all_tasks()) == tasks_before
    target = subscriptions[0].subject
    for n in range(200):
        await nc.publish(target, str(n).encode(), headers={"n": str(n)})
    assert await received.wait() == [str(n).encode() for n in range(200)]
    assert received.messages[7].headers == {"n": "7"}
    assert subscriptions[0]._pending_size == 0  # nothing counts towards a slow consumer


@pytest.mark.component
async def test_a_failing_handler_loses_that_message_only(
    nc: Client, caplog: pytest.LogCaptureFixture
) -> None:
    received = Received(expected=2)

    def handler(msg: Msg) -> None:
        if msg.data == b"bad":
            raise ValueError("cannot handle it")
        received(msg)

    sub = await subscribe_inline(nc, subject(), handler)
    with caplog.at_level(logging.ERROR):
        for data in (b"one", b"bad", b"two"):
            await nc.publish(sub.subject, data)
        assert await received.wait() == [b"one", b"two"]
    assert nc.is_connected
    assert any("inline handler failed" in record.message for record in caplog.records)


@pytest.mark.component
async def test_messages_queued_before_the_switch_come_first(nc: Client) -> None:
    sub = await nc.subscribe(subject())
    for data in (b"early-1", b"early-2"):
        await nc.publish(sub.subject, data)
    async with asyncio.timeout(WAIT):
        while sub.pending_msgs < 2:  # until the read loop has queued both (a round trip each)
            await nc.flush()
    received = Received(expected=3)
    handle_inline(sub, received)
    await nc.publish(sub.subject, b"late")
    assert await received.wait() == [b"early-1", b"early-2", b"late"]


@pytest.mark.component
async def test_unsubscribe_and_drain_work_as_usual(stores: Stores, nc: Client) -> None:
    received = Received(expected=1)
    sub = await subscribe_inline(nc, subject(), received)
    await nc.publish(sub.subject, b"before")
    assert await received.wait() == [b"before"]
    await sub.unsubscribe()
    await nc.publish(sub.subject, b"after")
    await nc.flush()  # the server had the unsubscribe before this: nothing can follow
    assert [msg.data for msg in received.messages] == [b"before"]

    other = await nats.connect(stores.nats_url)
    drained = Received(expected=1)
    await subscribe_inline(other, subject(), drained)
    await asyncio.wait_for(other.drain(), WAIT)
    assert other.is_closed
