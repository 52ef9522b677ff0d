"""Serving one chat WebSocket: its outbox and its session (``Session.serve`` accepts it, admits
it or not, and closes it on failure).

The outbox writes straight to the socket (``DirectOutbox``) when uvicorn's sans-I/O protocol
serves it and ``WS_DIRECT_WRITES`` is on, else through ASGI ``send`` (``Outbox``)."""

from collections.abc import Coroutine
from typing import Any

from starlette.websockets import WebSocket
from switchboard_runtime.patches.uvicorn_ws_protocol import websocket_protocol

from switchboard_gateway.chat.session import Session, SessionDeps
from switchboard_gateway.edge.limits import Admission
from switchboard_gateway.settings import GatewaySettings
from switchboard_gateway.transport.direct_outbox import DirectOutbox, FrameWriter
from switchboard_gateway.transport.outbox import Outbox, Outgoing

__all__ = ["make_outbox", "serve_session"]


def serve_session(
    deps: SessionDeps,
    admission: Admission,
    websocket: WebSocket,
    user_id: str,
    *,
    fixed_room: str | None = None,
    since: int | None = None,
) -> Coroutine[Any, Any, None]:
    """Accept and run a session (``Session.serve``); over the connection limit, close at once
    with 1013. A plain function returning the session's coroutine, whose one frame is all an
    idle connection keeps of the session on its stack."""
    outbox = make_outbox(deps.settings, deps.writer, websocket)
    session = Session(deps, websocket, user_id, outbox, fixed_room=fixed_room)
    return session.serve(admission, since)


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
