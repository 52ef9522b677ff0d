"""The session reads the ASGI ``receive`` that Starlette's ``WebSocket`` keeps (``_receive``),
past ``WebSocket.receive``; what that skips is pinned here, so that a Starlette upgrade that
changes it fails a test rather than a connection."""

import ast
import inspect
import textwrap

from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket


async def receive() -> Message:
    return {"type": "websocket.receive", "text": "x"}


async def send(message: Message) -> None:
    del message


def test_starlettes_websocket_keeps_the_asgi_receive_it_was_given() -> None:
    scope: Scope = {"type": "websocket", "path": "/ws", "headers": []}
    given: Receive = receive
    sender: Send = send
    assert WebSocket(scope, given, sender)._receive is given


def test_once_connected_starlettes_receive_only_tracks_the_clients_state() -> None:
    """Past the handshake it awaits ``_receive``, checks the type and notes a disconnect in
    ``client_state``: the session checks the type itself and reads no ``client_state``."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(WebSocket.receive)))
    assigned = {
        ast.unparse(target)
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        for target in node.targets
    }
    assert assigned <= {"self.client_state", "message", "message_type"}
    source = inspect.getsource(WebSocket.send)
    assert "client_state" not in source  # closing does not depend on what receive tracked
