"""The direct write path on a real uvicorn (websockets-sansio) and a real client: coalesced
frames arrive in order as separate messages, a stalled reader is cut off with 1013, and any
other server (uvicorn's wsproto implementation, a plain ASGI caller) keeps the ASGI path. A
room's message to its members (``Recipients``) is one write per member, in order with
whatever else each was offered in the same loop turn."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from prometheus_client import REGISTRY
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.types import Message
from starlette.websockets import WebSocket, WebSocketDisconnect
from switchboard_devstack.asgi import serving as serving_asgi
from switchboard_gateway.chat.connections import make_outbox
from switchboard_gateway.settings import GatewaySettings
from switchboard_gateway.transport.connection_metrics import frame_type_of
from switchboard_gateway.transport.direct_outbox import DirectOutbox, FrameWriter
from switchboard_gateway.transport.recipients import Recipients
from switchboard_gateway.transport.wire import SharedFrame, TimedFrame
from switchboard_runtime.patches.uvicorn_lean_ws import LeanWebSocketProtocol
from switchboard_runtime.patches.uvicorn_ws_protocol import (
    RecordWebSocketProtocol,
    websocket_protocol,
)
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

BURST = [
    SharedFrame("a" * 125),
    "b" * 126,
    TimedFrame("c" * 65535, 0.0),
    "d" * 65536,
    "é" * 70,
    "",
    *(f"frame {i}" for i in range(200)),
]
FLOOD_FRAME = SharedFrame("f" * 1024)
FLOOD_LIMIT = 64 * 1024
FLOOD_MAX_FRAMES = 200_000  # far beyond any loopback buffer: reaching it means never cut off
REPLAY_FRAMES = 20_000  # 20 MB: more than loopback buffers, so the replay must wait


class CountingTransport:
    """The real transport, counting the writes made to it."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))
        self._inner.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class Server:
    """The endpoints under test, and what they saw."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        self.writer = FrameWriter()
        self.writes: list[bytes] = []
        self.flood_closed = asyncio.Event()
        self.flooded = 0
        self.replay_blocked = asyncio.Event()
        self.replay_done = asyncio.Event()
        self.replay_timeout = 10.0
        self.room: dict[str, DirectOutbox] = {}
        self.room_writes: dict[str, list[bytes]] = {}
        self.room_size = 0
        self.room_full = asyncio.Event()
        self.app = RecordWebSocketProtocol(
            Starlette(
                routes=[
                    WebSocketRoute("/room/{name}", self.member),
                    WebSocketRoute("/kind", self.kind),
                    WebSocketRoute("/burst", self.burst),
                    WebSocketRoute("/flood", self.flood),
                    WebSocketRoute("/replay", self.replay),
                ]
            )
        )

    async def kind(self, websocket: WebSocket) -> None:
        await websocket.accept()
        outbox = make_outbox(self.settings, self.writer, websocket)
        outbox.start()
        outbox.offer(type(outbox).__name__)
        await _until_disconnected(websocket)
        await outbox.stop()

    async def counted(
        self, websocket: WebSocket, max_bytes: int
    ) -> tuple[DirectOutbox, list[bytes]]:
        """Accept; a direct outbox on it, and the writes made to its transport."""
        await websocket.accept()
        protocol = websocket_protocol(websocket.scope)
        assert protocol is not None
        counting = CountingTransport(protocol.transport)
        protocol.transport = counting  # type: ignore[assignment]
        outbox = DirectOutbox(websocket, protocol, self.writer, max_frames=10, max_bytes=max_bytes)
        return outbox, counting.writes

    async def burst(self, websocket: WebSocket) -> None:
        outbox, writes = await self.counted(websocket, max_bytes=1 << 30)
        for text in BURST:  # one loop turn: one write
            outbox.offer(text)
        await _until_disconnected(websocket)
        self.writes = writes
        await outbox.stop()

    async def member(self, websocket: WebSocket) -> None:
        """A room member named by the path; ``room_full`` once ``room_size`` have joined."""
        name = websocket.path_params["name"]
        self.room[name], self.room_writes[name] = await self.counted(websocket, FLOOD_LIMIT)
        if len(self.room) == self.room_size:
            self.room_full.set()
        await _until_disconnected(websocket)
        await self.room[name].stop()

    async def flood(self, websocket: WebSocket) -> None:
        await websocket.accept()
        protocol = websocket_protocol(websocket.scope)
        assert protocol is not None
        outbox = DirectOutbox(
            websocket, protocol, self.writer, max_frames=10, max_bytes=FLOOD_LIMIT
        )
        while not outbox.closed.is_set() and self.flooded < FLOOD_MAX_FRAMES:
            outbox.offer(FLOOD_FRAME)
            self.flooded += 1
            if self.flooded % 16 == 0:
                await asyncio.sleep(0)  # a loop turn: the writer flushes
        self.flood_closed.set()
        await outbox.stop()
        await _until_disconnected(websocket)

    async def replay(self, websocket: WebSocket) -> None:
        await websocket.accept()
        protocol = websocket_protocol(websocket.scope)
        assert protocol is not None
        outbox = DirectOutbox(
            websocket,
            protocol,
            self.writer,
            max_frames=10,
            max_bytes=1024,  # ``send`` waits for the reader instead of cutting it off
            send_timeout=self.replay_timeout,
        )
        for i in range(REPLAY_FRAMES):
            if not protocol.writable.is_set():
                self.replay_blocked.set()
            await outbox.send(f"{i:06d}" + "r" * 1024)
        self.replay_done.set()
        await _until_disconnected(websocket)
        await outbox.stop()


async def _until_disconnected(websocket: WebSocket) -> None:
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            await websocket.receive_text()


@contextlib.asynccontextmanager
async def serving(
    server: Server, ws: str | type[asyncio.Protocol] = LeanWebSocketProtocol
) -> AsyncIterator[str]:
    """The app under uvicorn, by default with the protocol ``run_service`` gives it."""
    async with serving_asgi(server.app, ws=ws) as port:
        yield f"ws://127.0.0.1:{port}"


async def _read_until_closed(client: ClientConnection) -> list[str | bytes]:
    received: list[str | bytes] = []
    with contextlib.suppress(ConnectionClosed):
        async with asyncio.timeout(30):
            while True:
                received.append(await client.recv())
    return received


async def _receive_all(client: ClientConnection, count: int, timeout: float = 10) -> list[str]:
    received = []
    async with asyncio.timeout(timeout):
        for _ in range(count):
            message = await client.recv()
            assert isinstance(message, str)
            received.append(message)
    return received


def slow_disconnects() -> float:
    value = REGISTRY.get_sample_value(
        "switchboard_gateway_slow_client_disconnects_total", {"transport": "websocket"}
    )
    return value or 0.0


async def test_frames_offered_in_one_turn_go_out_in_one_write_and_arrive_as_messages() -> None:
    server = Server(GatewaySettings())
    async with serving(server) as base, connect(f"{base}/burst", max_size=None) as client:
        assert await _receive_all(client, len(BURST)) == [str(text) for text in BURST]
    data_writes = [w for w in server.writes if w[0] == 0x81]  # uvicorn writes the close reply
    assert len(data_writes) == 1


async def test_a_stalled_reader_is_closed_with_1013_once_its_buffer_passes_the_limit() -> None:
    server = Server(GatewaySettings())
    before = slow_disconnects()
    async with serving(server) as base, connect(f"{base}/flood", max_size=None) as client:
        transport = client.transport
        transport.pause_reading()
        await asyncio.wait_for(server.flood_closed.wait(), timeout=30)
        assert server.flooded < FLOOD_MAX_FRAMES, "the stalled reader was never cut off"
        transport.resume_reading()
        received = await _read_until_closed(client)
        assert set(received) == {FLOOD_FRAME}
    assert client.close_code == 1013
    assert client.close_reason == "too slow: resume with since"
    assert slow_disconnects() == before + 1


@pytest.mark.parametrize(
    ("ws", "direct", "expected"),
    [
        (LeanWebSocketProtocol, True, "DirectOutbox"),
        ("websockets-sansio", True, "DirectOutbox"),
        ("websockets-sansio", False, "Outbox"),
        ("wsproto", True, "Outbox"),
    ],
)
async def test_only_uvicorn_sansio_gets_the_direct_path(
    ws: str | type[asyncio.Protocol], direct: bool, expected: str
) -> None:
    server = Server(GatewaySettings(ws_direct_writes=direct))
    async with serving(server, ws) as base, connect(f"{base}/kind") as client:
        assert await client.recv() == expected


async def test_a_server_that_is_not_uvicorn_sansio_gets_the_asgi_path() -> None:
    server = Server(GatewaySettings())
    incoming: asyncio.Queue[Message] = asyncio.Queue()
    incoming.put_nowait({"type": "websocket.connect"})
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)
        if message["type"] == "websocket.send":
            incoming.put_nowait({"type": "websocket.disconnect", "code": 1000})

    scope = {"type": "websocket", "path": "/kind", "headers": [], "query_string": b""}
    await asyncio.wait_for(server.app(scope, incoming.get, send), timeout=10)
    assert [m.get("text") for m in sent if m["type"] == "websocket.send"] == ["Outbox"]


async def test_a_replay_waits_while_the_client_reads_and_loses_nothing() -> None:
    server = Server(GatewaySettings())
    async with serving(server) as base, connect(f"{base}/replay", max_size=None) as client:
        client.transport.pause_reading()
        await asyncio.wait_for(server.replay_blocked.wait(), timeout=30)
        client.transport.resume_reading()
        received = await _receive_all(client, REPLAY_FRAMES, timeout=60)
        assert [int(text[:6]) for text in received] == list(range(REPLAY_FRAMES))
        await asyncio.wait_for(server.replay_done.wait(), timeout=10)
    assert client.close_code == 1000


async def test_a_replay_to_a_client_that_stopped_reading_ends_with_1013() -> None:
    server = Server(GatewaySettings())
    server.replay_timeout = 0.5
    async with serving(server) as base, connect(f"{base}/replay", max_size=None) as client:
        client.transport.pause_reading()
        await asyncio.wait_for(server.replay_done.wait(), timeout=30)
        client.transport.resume_reading()
        received = await _read_until_closed(client)
    assert 0 < len(received) < REPLAY_FRAMES
    assert client.close_code == 1013


@contextlib.asynccontextmanager
async def room(server: Server, names: list[str]) -> AsyncIterator[dict[str, ClientConnection]]:
    """A client per name, each a member of ``server.room`` once the block starts."""
    server.room_size = len(names)
    async with serving(server) as base, contextlib.AsyncExitStack() as stack:
        clients = {
            name: await stack.enter_async_context(connect(f"{base}/room/{name}", max_size=None))
            for name in names
        }
        await asyncio.wait_for(server.room_full.wait(), timeout=10)
        yield clients


def frames_sent(text: str) -> float:
    value = REGISTRY.get_sample_value(
        "switchboard_gateway_frames_sent_total",
        {"transport": "websocket", "type": frame_type_of(text)},
    )
    return value or 0.0


def data_writes(writes: list[bytes]) -> int:
    return sum(1 for w in writes if w[0] == 0x81)  # not uvicorn's own control frames


async def test_a_room_message_alone_in_its_turn_is_one_write_to_each_member_counted_once() -> None:
    server = Server(GatewaySettings())
    text = TimedFrame('{"type":"chat","seq":1}', 0.0)
    before = frames_sent(text)
    async with room(server, ["al", "bo", "cy"]) as clients:
        server.room["cy"].close(1000, "bye")  # a closed member is neither written nor counted
        Recipients(server.room.values()).offer(text)
        assert await _receive_all(clients["al"], 1) == [text]
        assert await _receive_all(clients["bo"], 1) == [text]
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(clients["cy"].recv(), timeout=10)
        assert clients["cy"].close_code == 1000
        assert {n: data_writes(server.room_writes[n]) for n in server.room} == {
            "al": 1,
            "bo": 1,
            "cy": 0,
        }
    assert frames_sent(text) == before + 2


async def test_frames_offered_beside_a_room_message_keep_their_order_for_each_member() -> None:
    server = Server(GatewaySettings())
    async with room(server, ["al", "bo", "cy"]) as clients:
        recipients = Recipients(server.room.values())
        # One loop turn: the first room message is kept whole until a frame for one member
        # comes; from then on each member's frames are gathered in the order offered.
        recipients.offer(SharedFrame("one"))
        server.room["bo"].offer("to bo")
        recipients.offer(SharedFrame("two"))
        server.room["cy"].close(1000, "bye")
        assert await _receive_all(clients["al"], 2) == ["one", "two"]
        assert await _receive_all(clients["bo"], 3) == ["one", "to bo", "two"]
        assert await _read_until_closed(clients["cy"]) == ["one", "two"]
        assert clients["cy"].close_code == 1000
        assert {n: data_writes(server.room_writes[n]) for n in server.room} == {
            "al": 1,
            "bo": 1,
            "cy": 1,
        }


async def test_a_member_that_stops_reading_a_room_is_closed_with_1013_and_the_others_get_all() -> (
    None
):
    server = Server(GatewaySettings())
    before = slow_disconnects()
    async with room(server, ["al", "bo"]) as clients:
        recipients = Recipients(server.room.values())
        clients["bo"].transport.pause_reading()
        received: list[str] = []
        sent = 0
        while not server.room["bo"].closed.is_set():
            assert sent < FLOOD_MAX_FRAMES, "the stalled reader was never cut off"
            recipients.offer(SharedFrame(f"{sent:06d}" + "f" * 1024))  # alone in its turn
            sent += 1
            received += await _receive_all(clients["al"], 1)
        clients["bo"].transport.resume_reading()
        assert [int(text[:6]) for text in received] == list(range(sent))
        stalled = await _read_until_closed(clients["bo"])
        assert [int(text[:6]) for text in stalled] == list(range(len(stalled)))
    assert clients["bo"].close_code == 1013
    assert slow_disconnects() == before + 1
