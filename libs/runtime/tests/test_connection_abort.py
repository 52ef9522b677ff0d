"""``ConnectionAbort`` hands the app the server transport's abort, found behind uvicorn's send."""

from starlette.types import Message, Receive, Scope, Send
from switchboard_runtime.patches.uvicorn_connection_abort import ConnectionAbort, abort_connection


class Transport:
    def __init__(self) -> None:
        self.aborted = False

    def abort(self) -> None:
        self.aborted = True


class Cycle:
    """Like uvicorn's RequestResponseCycle: ``send`` is a method, next to ``transport``."""

    def __init__(self) -> None:
        self.transport = Transport()

    async def send(self, message: Message) -> None:
        del message


async def receive() -> Message:
    return {"type": "http.disconnect"}


async def test_the_app_can_abort_the_connection_under_uvicorn() -> None:
    cycle = Cycle()
    answers: list[bool] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        answers.append(abort_connection(scope))

    await ConnectionAbort(app)({"type": "http"}, receive, cycle.send)
    assert answers == [True]
    assert cycle.transport.aborted


async def test_without_a_transport_the_caller_is_told_to_fall_back() -> None:
    answers: list[bool] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        answers.append(abort_connection(scope))

    async def send(message: Message) -> None:
        del message

    await ConnectionAbort(app)({"type": "http"}, receive, send)
    assert answers == [False]


def forwarded(kind: str, client: str) -> Scope:
    return {
        "type": kind,
        "scheme": "ws" if kind == "websocket" else "http",
        "client": (client, 50000),
        "headers": [(b"x-forwarded-for", b"203.0.113.7"), (b"x-forwarded-proto", b"https")],
    }


async def test_proxy_headers_from_a_trusted_host_reach_the_app_and_others_are_ignored() -> None:
    """As uvicorn's own wrapper would (``run_service`` turns it off): the forwarded client and
    scheme, for HTTP and WebSockets alike, only from the trusted hosts."""
    seen: list[tuple[object, object]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append((scope["client"], scope["scheme"]))

    async def send(message: Message) -> None:
        del message

    wrapped = ConnectionAbort(app, trusted_hosts="127.0.0.1")
    await wrapped(forwarded("http", "127.0.0.1"), receive, send)
    await wrapped(forwarded("websocket", "127.0.0.1"), receive, send)
    await wrapped(forwarded("websocket", "198.51.100.1"), receive, send)
    await ConnectionAbort(app)(forwarded("http", "127.0.0.1"), receive, send)
    assert seen == [
        (("203.0.113.7", 0), "https"),
        (("203.0.113.7", 0), "wss"),
        (("198.51.100.1", 50000), "ws"),
        (("127.0.0.1", 50000), "http"),
    ]
