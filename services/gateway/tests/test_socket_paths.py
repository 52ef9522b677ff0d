"""``SocketPaths``: a WebSocket on a path it knows goes to its handler (through its own
``edge``), past the app it wraps; anything else (another path, HTTP on the same path) goes on to
that app. ``GatewayApp`` puts it before Starlette and its middleware."""

import asyncio
from collections.abc import Awaitable

from starlette.middleware import Middleware
from starlette.routing import WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from switchboard_devstack.asgi import serving
from switchboard_gateway.transport.socket_paths import GatewayApp, SocketPaths
from websockets.asyncio.client import connect


class Calls:
    def __init__(self) -> None:
        self.handled: list[WebSocket] = []
        self.passed: list[Scope] = []

    async def handler(self, websocket: WebSocket) -> None:
        self.handled.append(websocket)

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.passed.append(scope)


async def receive() -> Message:
    return {"type": "websocket.connect"}


async def send(message: Message) -> None:
    pass


async def test_a_known_websocket_path_is_handed_to_its_handler() -> None:
    calls = Calls()
    paths = SocketPaths(calls.app, handlers={"/ws": calls.handler})
    await paths({"type": "websocket", "path": "/ws", "headers": []}, receive, send)
    assert [ws.url.path for ws in calls.handled] == ["/ws"]
    assert calls.passed == []
    assert await calls.handled[0].receive() == {"type": "websocket.connect"}


async def test_other_paths_and_http_on_the_same_path_go_on_to_the_app() -> None:
    calls = Calls()
    paths = SocketPaths(calls.app, handlers={"/ws": calls.handler})
    await paths({"type": "websocket", "path": "/chat/r1", "headers": []}, receive, send)
    await paths({"type": "http", "path": "/ws", "headers": []}, receive, send)
    await paths({"type": "lifespan"}, receive, send)
    assert calls.handled == []
    assert [scope["type"] for scope in calls.passed] == ["websocket", "http", "lifespan"]


async def test_the_edge_wraps_the_handlers_and_not_the_app() -> None:
    calls = Calls()
    wrapped: list[str] = []

    def edge(inner: ASGIApp) -> ASGIApp:
        def outer(scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
            wrapped.append(scope["path"])
            return inner(scope, receive, send)

        return outer

    paths = SocketPaths(calls.app, handlers={"/ws": calls.handler}, edge=edge)
    await paths({"type": "websocket", "path": "/ws", "headers": []}, receive, send)
    await paths({"type": "websocket", "path": "/chat/r1", "headers": []}, receive, send)
    assert wrapped == ["/ws"]
    assert [ws.url.path for ws in calls.handled] == ["/ws"]
    assert [scope["path"] for scope in calls.passed] == ["/chat/r1"]


async def test_the_gateway_app_serves_its_socket_paths_before_starlette_the_rest_through_it() -> (
    None
):
    through_middleware: list[str] = []

    class Watch:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            through_middleware.append(scope["path"])
            await self.app(scope, receive, send)

    async def served(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(websocket.url.path)
        await websocket.close()

    app = GatewayApp(
        sockets={"/ws": served},
        socket_edge=lambda inner: inner,
        routes=[WebSocketRoute("/chat/{room_id}", served)],
        middleware=[Middleware(Watch)],
    )
    async with serving(app, interface="asgi3") as port:  # a plain function, not a coroutine
        for path in ("/ws", "/chat/r1"):
            async with connect(f"ws://127.0.0.1:{port}{path}") as client:
                assert await asyncio.wait_for(client.recv(), 10) == path
    assert through_middleware == ["/chat/r1"]
