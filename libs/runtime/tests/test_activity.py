"""The edge counts what a service serves from the ASGI messages alone."""

from collections.abc import Awaitable, Callable

import pytest
from starlette.types import Message, Receive, Scope, Send
from switchboard_runtime.service.activity import Activity, ActivityMiddleware

App = Callable[[Scope, Receive, Send], Awaitable[None]]


@pytest.fixture
def activity() -> Activity:
    return Activity()


async def serve(activity: Activity, app: App, scope: Scope, messages: list[Message]) -> None:
    async def receive() -> Message:
        return messages.pop(0)

    async def send(_: Message) -> None:
        return None

    await ActivityMiddleware(app, activity)(scope, receive, send)


def http(path: str) -> Scope:
    return {"type": "http", "path": path, "method": "GET", "headers": []}


def reply(content_type: bytes, during: Callable[[], None] = lambda: None) -> App:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", content_type)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        during()
        await send({"type": "http.response.body", "body": b""})

    return app


async def test_http_requests_count_but_probes_do_not(activity: Activity) -> None:
    for path in ("/hello", "/api/x", "/", "/healthz", "/readyz", "/metrics"):
        await serve(activity, reply(b"text/plain"), http(path), [])
    assert activity.requests_total == 3
    assert activity.connections == 0


async def test_an_event_stream_is_a_connection_while_it_lasts(activity: Activity) -> None:
    seen: list[int] = []
    app = reply(b"text/event-stream; charset=utf-8", lambda: seen.append(activity.connections))
    await serve(activity, app, http("/stream"), [])
    assert seen == [1]
    assert activity.connections == 0


async def test_a_websocket_is_a_connection_and_each_frame_it_sends_a_request(
    activity: Activity,
) -> None:
    seen: list[int] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()  # connect
        await send({"type": "websocket.accept"})
        while (await receive())["type"] == "websocket.receive":
            seen.append(activity.connections)

    frames: list[Message] = [{"type": "websocket.receive", "text": str(n)} for n in range(3)]
    messages = [{"type": "websocket.connect"}, *frames, {"type": "websocket.disconnect"}]
    await serve(activity, app, {"type": "websocket", "path": "/ws"}, messages)
    assert seen == [1, 1, 1]
    assert activity.requests_total == 3
    assert activity.connections == 0


async def test_a_refused_websocket_is_no_connection(activity: Activity) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.close", "code": 1008})

    await serve(
        activity, app, {"type": "websocket", "path": "/ws"}, [{"type": "websocket.connect"}]
    )
    assert activity.connections == 0
    assert activity.requests_total == 0


async def test_a_connection_that_fails_is_closed_in_the_count(activity: Activity) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "websocket.accept"})
        raise RuntimeError("handler bug")

    with pytest.raises(RuntimeError):
        await serve(activity, app, {"type": "websocket", "path": "/ws"}, [])
    assert activity.connections == 0
