"""Connection metrics taken from the ASGI messages: a small app served one connection at a time,
as an ASGI server would, without sockets."""

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from prometheus_client import REGISTRY
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Scope
from starlette.websockets import WebSocket, WebSocketDisconnect
from switchboard_gateway.chat import frames
from switchboard_gateway.transport.connection_metrics import (
    ConnectionMetrics,
    event_type_of,
    frame_type_of,
)
from switchboard_gateway.transport.outbox import Outbox
from switchboard_gateway.transport.wire import TimedFrame
from switchboard_runtime.patches.uvicorn_connection_abort import ConnectionAbort


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def delivers_one_live_message(websocket: WebSocket) -> None:
    await websocket.accept()
    accepted_a_quarter_second_ago = time.time() - 0.25
    await websocket.send_text(
        TimedFrame(frames.connected_frame("c"), accepted_a_quarter_second_ago)
    )
    try:
        while True:
            await websocket.receive_text()
    except WebSocketDisconnect:
        pass


async def cuts_off_a_slow_reader(websocket: WebSocket) -> None:
    await websocket.accept()
    outbox = Outbox(websocket, max_frames=1)  # its writer is never started: nobody reads
    outbox.offer(frames.pong_frame({}))
    outbox.offer(frames.pong_frame({}))
    await outbox.closed.wait()
    await asyncio.sleep(0.05)  # let the close go out


async def refuses(websocket: WebSocket) -> None:
    await websocket.send_denial_response(JSONResponse({"error": "no"}, status_code=401))


async def events(_: Request) -> Response:
    async def stream() -> AsyncIterator[str]:
        yield "retry: 1000\n\n"
        yield 'id: 1\nevent: notification\ndata: {"id": "n1"}\n\n'
        yield ":keepalive\n\n"

    return StreamingResponse(stream(), media_type="text/event-stream")


APP = Starlette(
    routes=[
        WebSocketRoute("/live", delivers_one_live_message),
        WebSocketRoute("/slow", cuts_off_a_slow_reader),
        WebSocketRoute("/refuse", refuses),
        Route("/events", events),
    ],
    middleware=[Middleware(ConnectionMetrics)],
)


def scope(kind: str, path: str) -> Scope:
    return {
        "type": kind,
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "ws" if kind == "websocket" else "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
        "subprotocols": [],
        "extensions": {"websocket.http.response": {}},
    }


async def serve(
    kind: str, path: str, client_says: list[Message], app: ASGIApp = APP
) -> list[Message]:
    """Run one connection through the app as a server would; what the app sent, in order."""
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    for message in client_says:
        inbox.put_nowait(message)
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await asyncio.wait_for(app(scope(kind, path), inbox.get, send), timeout=5)
    return sent


CONNECT: Message = {"type": "websocket.connect"}


async def test_a_websocket_is_counted_open_then_closed_with_the_clients_code() -> None:
    connects = sample("switchboard_gateway_connects_total", transport="websocket")
    going_away = sample("switchboard_gateway_disconnects_total", transport="websocket", code="1001")
    sent = await serve(
        "websocket", "/live", [CONNECT, {"type": "websocket.disconnect", "code": 1001}]
    )
    assert [m["type"] for m in sent] == ["websocket.accept", "websocket.send"]
    assert sample("switchboard_gateway_connects_total", transport="websocket") == connects + 1
    assert (
        sample("switchboard_gateway_disconnects_total", transport="websocket", code="1001")
        == going_away + 1
    )
    assert sample("switchboard_gateway_connections", transport="websocket") == 0


async def test_under_the_outermost_layer_a_websocket_is_closed_in_the_count_at_its_end() -> None:
    """As ``run_service`` serves it: ``ConnectionAbort`` runs the metrics' end, which then keep
    no frame of their own while the socket lasts (``socket_end``)."""
    aborted = sample("switchboard_gateway_disconnects_total", transport="websocket", code="1001")
    await serve(
        "websocket",
        "/live",
        [CONNECT, {"type": "websocket.disconnect", "code": 1001}],
        ConnectionAbort(APP),
    )
    assert (
        sample("switchboard_gateway_disconnects_total", transport="websocket", code="1001")
        == aborted + 1
    )
    assert sample("switchboard_gateway_connections", transport="websocket") == 0


async def test_a_live_frame_is_counted_by_type_and_its_delivery_latency_observed() -> None:
    def sent_frames() -> float:
        return sample(
            "switchboard_gateway_frames_sent_total", transport="websocket", type="notification"
        )

    def latency(part: str) -> float:
        return sample(f"switchboard_gateway_delivery_latency_seconds_{part}", transport="websocket")

    before = (sent_frames(), latency("count"), latency("sum"))
    await serve("websocket", "/live", [CONNECT, {"type": "websocket.disconnect", "code": 1000}])
    assert sent_frames() == before[0] + 1
    assert latency("count") == before[1] + 1
    assert 0.25 <= latency("sum") - before[2] < 5


async def test_a_slow_reader_is_cut_off_with_1013_and_counted() -> None:
    slow = sample("switchboard_gateway_slow_client_disconnects_total", transport="websocket")
    closed = sample("switchboard_gateway_disconnects_total", transport="websocket", code="1013")
    sent = await serve("websocket", "/slow", [CONNECT])
    assert sent[-1] == {
        "type": "websocket.close",
        "code": 1013,
        "reason": "too slow: resume with since",
    }
    assert (
        sample("switchboard_gateway_slow_client_disconnects_total", transport="websocket")
        == slow + 1
    )
    assert (
        sample("switchboard_gateway_disconnects_total", transport="websocket", code="1013")
        == closed + 1
    )


async def test_a_refused_handshake_is_not_a_connection() -> None:
    connects = sample("switchboard_gateway_connects_total", transport="websocket")
    refused = sample(
        "switchboard_gateway_handshake_refusals_total", transport="websocket", code="401"
    )
    sent = await serve("websocket", "/refuse", [CONNECT])
    assert sent[0]["type"] == "websocket.http.response.start"
    assert sample("switchboard_gateway_connects_total", transport="websocket") == connects
    assert (
        sample("switchboard_gateway_handshake_refusals_total", transport="websocket", code="401")
        == refused + 1
    )


async def test_an_event_stream_is_an_sse_connection_and_its_events_are_frames() -> None:
    def frames_sent(kind: str) -> float:
        return sample("switchboard_gateway_frames_sent_total", transport="sse", type=kind)

    connects = sample("switchboard_gateway_connects_total", transport="sse")
    before = {kind: frames_sent(kind) for kind in ("notification", "keepalive", "other")}
    sent = await serve("http", "/events", [{"type": "http.request", "body": b""}])
    assert sent[0]["status"] == 200
    assert sample("switchboard_gateway_connects_total", transport="sse") == connects + 1
    assert sample("switchboard_gateway_connections", transport="sse") == 0
    assert {kind: frames_sent(kind) - before[kind] for kind in before} == {
        "notification": 1,
        "keepalive": 1,
        "other": 1,  # the retry hint
    }


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (frames.pong_frame({"sentAt": 1, "type": "ignored"}), "pong"),
        (frames.error_frame("invalid_json", "x"), "error"),
        (frames.invalid_format_frame(), "notification"),
        ('{"type":"made-up-type","payload":{}}', "other"),
        ('42["metrics-update",{}]', "other"),
    ],
)
def test_the_type_of_a_frame_we_wrote_is_read_from_its_first_key(text: str, kind: str) -> None:
    assert frame_type_of(text) == kind


def test_sse_events_are_typed_by_their_event_field() -> None:
    assert event_type_of(b"id: 3\nevent: notification\ndata: {}\n\n") == "notification"
    assert event_type_of(b":keepalive\n\n") == "keepalive"
    assert event_type_of(b"data: {}\n\n") == "other"


def test_client_frames_are_counted_by_type_with_unknown_types_bounded() -> None:
    def received(kind: str) -> float:
        return sample("switchboard_gateway_frames_received_total", transport="websocket", type=kind)

    before = {kind: received(kind) for kind in ("chat", "invalid", "other")}
    frames.parse_client_frame('{"type": "chat", "payload": {"content": "hi"}}')
    frames.parse_client_frame("not json")
    frames.parse_client_frame('{"type": "room-4711-specific"}')
    assert {kind: received(kind) - before[kind] for kind in before} == {
        "chat": 1,
        "invalid": 1,
        "other": 1,
    }
