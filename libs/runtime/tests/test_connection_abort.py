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
