"""python-socketio over our NATS: an emit on one gateway reaches a client held by another."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import socketio
import uvicorn
from switchboard_devstack import free_port
from switchboard_devstack.sioclient import SocketIoRecorder
from switchboard_devstack.stores import Stores
from switchboard_gateway.dashboards.socketio_manager import NatsManager
from switchboard_runtime import Bus, ServiceSettings

pytestmark = pytest.mark.component


@asynccontextmanager
async def socketio_server(nats_url: str) -> AsyncIterator[tuple[socketio.AsyncServer, str]]:
    """A Socket.IO server on its own port whose manager talks over its own NATS connection."""
    bus = Bus(ServiceSettings(nats_url=nats_url), name="socketio-test")
    await bus.connect()
    manager = NatsManager(bus)
    sio = socketio.AsyncServer(async_mode="asgi", client_manager=manager)

    async def join(sid: str, room: Any) -> None:
        await sio.enter_room(sid, room)

    sio.on("join", join)
    sio.manager_initialized = True
    manager.initialize()
    port = free_port()
    config = uvicorn.Config(
        socketio.ASGIApp(sio), host="127.0.0.1", port=port, log_config=None, lifespan="off"
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(10):
            while not server.started:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        yield sio, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serving
        await manager.close()
        await bus.close()


async def test_an_emit_to_a_room_reaches_clients_of_every_replica(stores: Stores) -> None:
    async with (
        socketio_server(stores.nats_url) as (one, one_url),
        socketio_server(stores.nats_url) as (_, two_url),
        SocketIoRecorder(one_url, ["/"], ["news"]) as near,
        SocketIoRecorder(two_url, ["/"], ["news"]) as far,
    ):
        await near.emit("join", "ops", "/")
        await far.emit("join", "ops", "/")
        # the far replica's room membership is in place once one of its emits arrives
        async with asyncio.timeout(10):
            while not far.of("news"):
                await one.emit("news", {"n": 0}, room="ops")
                await asyncio.sleep(0.1)
        await one.emit("news", {"n": 1}, room="ops")
        await far.wait_for("news", lambda data: data == {"n": 1})
        await near.wait_for("news", lambda data: data == {"n": 1})
        [only_near] = [d for d in near.of("news") if d == {"n": 1}]
        assert only_near == {"n": 1}  # delivered once, not once more through the bus


async def test_an_emit_with_ignore_queue_stays_on_its_replica(stores: Stores) -> None:
    async with (
        socketio_server(stores.nats_url) as (one, one_url),
        socketio_server(stores.nats_url) as (_, two_url),
        SocketIoRecorder(one_url, ["/"], ["news"]) as near,
        SocketIoRecorder(two_url, ["/"], ["news"]) as far,
    ):
        async with asyncio.timeout(10):  # the far replica follows the channel
            while not far.of("news"):
                await one.emit("news", {"warm-up": True})
                await asyncio.sleep(0.1)
        # warm-ups emitted after the one that arrived may still be on their way: one more,
        # awaited, comes after them all
        await one.emit("news", {"warm-up": "last"})
        await far.wait_for("news", lambda data: data == {"warm-up": "last"})
        far.events.clear()
        await one.emit("news", {"local": True}, ignore_queue=True)
        await one.emit("news", {"everywhere": True})  # the channel keeps one sender's order
        await far.wait_for("news", lambda data: data == {"everywhere": True})
        await near.wait_for("news", lambda data: data == {"local": True})
        assert far.of("news") == [{"everywhere": True}]
