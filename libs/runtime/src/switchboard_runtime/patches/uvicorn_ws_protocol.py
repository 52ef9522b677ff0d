"""Which server protocol object serves a WebSocket, for an app that writes frames itself.

Under ``run_service`` the server's protocol (``uvicorn_lean_ws.LeanWebSocketProtocol``) puts itself
in
the scope under ``WS_PROTOCOL_SCOPE_KEY``. ``RecordWebSocketProtocol`` does the same from
outside, as the outermost ASGI layer, for uvicorn's own ``websockets-sansio`` implementation:
the ``send`` callable it hands the app is a bound method of its per-connection protocol. An app
may then write pre-encoded frames to ``protocol.transport`` (see the gateway's
``direct_outbox``). Under any other server (Starlette's TestClient, another
implementation) the key is absent and the app keeps to plain ASGI messages.
"""

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

__all__ = ["WS_PROTOCOL_SCOPE_KEY", "RecordWebSocketProtocol", "websocket_protocol"]

WS_PROTOCOL_SCOPE_KEY = "switchboard.ws_protocol"


class RecordWebSocketProtocol:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            owner = getattr(send, "__self__", None)
            if isinstance(owner, WebSocketsSansIOProtocol):
                scope[WS_PROTOCOL_SCOPE_KEY] = owner
        await self.app(scope, receive, send)


def websocket_protocol(scope: Scope) -> WebSocketsSansIOProtocol | None:
    """The uvicorn sans-I/O protocol serving this WebSocket, if that is the server."""
    owner = scope.get(WS_PROTOCOL_SCOPE_KEY)
    return owner if isinstance(owner, WebSocketsSansIOProtocol) else None
