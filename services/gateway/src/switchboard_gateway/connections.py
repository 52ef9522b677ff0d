"""Serving one accepted WebSocket: the connection limit, the outbox, closing on failure."""

import logging

from starlette.websockets import WebSocket, WebSocketDisconnect

from switchboard_gateway.drain import SocketDrainable
from switchboard_gateway.outbox import CLOSE_TRY_AGAIN_LATER, Outbox
from switchboard_gateway.session import CLOSE_INTERNAL_ERROR, Session, SessionDeps

__all__ = ["Admission", "serve_session"]

log = logging.getLogger(__name__)


class Admission:
    """How many WebSocket connections this gateway holds, against its limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.active = 0

    def enter(self) -> bool:
        if self.active >= self.limit:
            return False
        self.active += 1
        return True

    def leave(self) -> None:
        self.active -= 1


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
    if not admission.enter():
        await websocket.close(CLOSE_TRY_AGAIN_LATER, "connection limit reached; retry later")
        return
    settings = deps.settings
    outbox = Outbox(websocket, settings.outbox_frames, settings.replay_send_timeout_seconds)
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
        outbox.close(CLOSE_INTERNAL_ERROR, "internal error; reconnect")
    finally:
        deps.drain.untrack(drainable)
        admission.leave()
        await outbox.stop()
