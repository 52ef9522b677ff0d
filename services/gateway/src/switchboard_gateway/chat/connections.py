"""Serving one accepted chat WebSocket: admitted or not, its outbox, closing on failure.

The outbox writes straight to the socket (``DirectOutbox``) when uvicorn's sans-I/O protocol
serves it and ``WS_DIRECT_WRITES`` is on, else through ASGI ``send`` (``Outbox``)."""

import logging

from starlette.types import Scope
from starlette.websockets import WebSocket, WebSocketDisconnect
from switchboard_protocol import CloseCode
from switchboard_runtime.patches.uvicorn_ws_protocol import websocket_protocol

from switchboard_gateway.chat.session import Session, SessionDeps
from switchboard_gateway.edge.drain import SocketDrainable
from switchboard_gateway.edge.limits import Admission
from switchboard_gateway.settings import GatewaySettings
from switchboard_gateway.transport.direct_outbox import DirectOutbox, FrameWriter
from switchboard_gateway.transport.outbox import Outbox, Outgoing

__all__ = ["forget_handshake", "make_outbox", "serve_session"]

log = logging.getLogger(__name__)


async def serve_session(
    deps: SessionDeps,
    admission: Admission,
    websocket: WebSocket,
    user_id: str,
    *,
    fixed_room: str | None = None,
    since: int | None = None,
) -> None:
    """Accept and run a session; over the connection limit, close at once with 1013."""
    await websocket.accept()
    refused = admission.enter(user_id)
    if refused is not None:
        await websocket.close(CloseCode.TRY_AGAIN_LATER, refused)
        return
    forget_handshake(websocket.scope)
    outbox = make_outbox(deps.settings, deps.writer, websocket)
    outbox.start()
    drainable = SocketDrainable(outbox)
    deps.drain.track(drainable)  # a gateway already draining closes it at once (1012)
    session = Session(deps, websocket, user_id, outbox, fixed_room=fixed_room)
    try:
        await session.run(since)
    except WebSocketDisconnect:
        pass
    except Exception:
        log.exception("a WebSocket session failed")
        outbox.close(CloseCode.INTERNAL_ERROR, "internal error; reconnect")
    finally:
        deps.drain.untrack(drainable)
        admission.leave(user_id)
        await outbox.stop()


def forget_handshake(scope: Scope) -> None:
    """Drop what only the handshake needed from an accepted socket's scope: the request's
    headers and its query string (with auth, the token), the subprotocols it offered and the
    server's handshake extensions. The guard, the user's resolution and the server have read
    them by now, and nothing reads them again; kept, they are about 1.4 KB per idle connection.
    The path, the client's address and the verified identity stay."""
    scope["headers"] = ()
    scope["query_string"] = b""
    scope["subprotocols"] = ()
    scope.pop("extensions", None)


def make_outbox(settings: GatewaySettings, writer: FrameWriter, websocket: WebSocket) -> Outgoing:
    """A ``DirectOutbox`` under uvicorn's websockets-sansio (unless turned off), else ``Outbox``."""
    protocol = websocket_protocol(websocket.scope) if settings.ws_direct_writes else None
    if protocol is None:
        return Outbox(websocket, settings.outbox_frames, settings.replay_send_timeout_seconds)
    return DirectOutbox(
        websocket,
        protocol,
        writer,
        max_frames=settings.outbox_frames,
        max_bytes=settings.outbox_byte_limit,
        send_timeout=settings.replay_send_timeout_seconds,
    )
