"""``socket_end``: the outermost layer runs what inner layers registered for a WebSocket's end,
innermost first, once, with whether the app failed; layers then keep no frame of their own."""

import inspect

import pytest
from starlette.types import Message, Receive, Scope, Send
from switchboard_runtime.patches.uvicorn_connection_abort import ConnectionAbort
from switchboard_runtime.service.activity import Activity, ActivityMiddleware
from switchboard_runtime.service.socket_end import (
    SOCKET_MESSAGES_KEY,
    MessageObserver,
    on_socket_end,
    on_socket_message,
    open_socket_end,
    run_socket_end,
)


async def receive() -> Message:
    return {"type": "websocket.disconnect", "code": 1000}


async def send(_: Message) -> None:
    return None


def socket() -> Scope:
    return {"type": "websocket", "path": "/ws", "headers": []}


def test_without_an_opened_list_nobody_runs_the_end_and_the_layer_is_told() -> None:
    assert on_socket_end(socket(), lambda failed: None) is False


def test_callbacks_run_innermost_first_once_and_one_failing_does_not_stop_the_rest() -> None:
    scope = socket()
    ends = open_socket_end(scope)
    ran: list[tuple[str, bool]] = []

    def broken(_: bool) -> None:
        raise RuntimeError("boom")

    assert on_socket_end(scope, lambda failed: ran.append(("outer", failed)))
    assert on_socket_end(scope, broken)
    assert on_socket_end(scope, lambda failed: ran.append(("inner", failed)))
    run_socket_end(ends, True)
    run_socket_end(ends, True)
    assert ran == [("inner", True), ("outer", True)]


@pytest.mark.parametrize("fails", [False, True])
async def test_connection_abort_runs_the_end_when_the_socket_app_returns_or_raises(
    fails: bool,
) -> None:
    seen: list[bool] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert on_socket_end(scope, seen.append)
        assert seen == []  # not before the app is done
        if fails:
            raise RuntimeError("the app failed")

    if fails:
        with pytest.raises(RuntimeError):
            await ConnectionAbort(app)(socket(), receive, send)
    else:
        await ConnectionAbort(app)(socket(), receive, send)
    assert seen == [fails]


async def test_activity_hands_a_socket_on_without_a_frame_and_counts_it_closed_at_its_end() -> None:
    activity = Activity()
    during: list[int] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "websocket.accept"})
        during.append(activity.connections)

    scope = socket()
    ends = open_socket_end(scope)
    handed = ActivityMiddleware(app, activity)(scope, receive, send)
    assert inspect.iscoroutine(handed)
    assert handed.cr_code is app.__code__  # the app's own coroutine: no wrapper frame
    await handed
    assert during == [1]
    assert activity.connections == 1  # open until the outermost layer runs the end
    run_socket_end(ends, False)
    assert activity.connections == 0


class Messages:
    """What the server's protocol puts in the scope (``ReceiveQueue``), as far as layers see."""

    def __init__(self) -> None:
        self.observers: list[MessageObserver] = []

    def observe(self, observer: MessageObserver) -> None:
        self.observers.append(observer)

    def arrive(self, message: Message) -> None:
        for observer in self.observers:
            observer(message)


def test_without_the_servers_messages_a_layer_is_told_to_wrap_receive() -> None:
    assert on_socket_message(socket(), lambda message: None) is False


async def test_activity_counts_frames_as_they_arrive_and_hands_receive_on_untouched() -> None:
    activity = Activity()
    messages = Messages()
    handed: list[Receive] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        handed.append(receive)

    scope = {**socket(), SOCKET_MESSAGES_KEY: messages}
    open_socket_end(scope)
    await ActivityMiddleware(app, activity)(scope, receive, send)
    assert handed == [receive]
    messages.arrive({"type": "websocket.receive", "text": "one"})
    messages.arrive({"type": "websocket.receive", "text": "two"})
    messages.arrive({"type": "websocket.disconnect", "code": 1000})
    assert activity.requests_total == 2
