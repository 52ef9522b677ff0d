"""``SocketPaths``: a WebSocket on a path it knows goes to its handler, past the app it wraps;
anything else (another path, HTTP on the same path) goes on to that app."""

from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from switchboard_gateway.transport.socket_paths import SocketPaths


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
