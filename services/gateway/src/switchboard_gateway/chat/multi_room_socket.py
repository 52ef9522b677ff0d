"""``/ws``: the multi-room WebSocket form; the client joins and leaves rooms with frames."""

from collections.abc import Awaitable

from starlette.responses import JSONResponse
from starlette.websockets import WebSocket

from switchboard_gateway.chat.connections import serve_session
from switchboard_gateway.chat.session import SessionDeps
from switchboard_gateway.edge.identity import IdentityError, resolve_user
from switchboard_gateway.edge.limits import Admission

__all__ = ["MultiRoomSocket"]


class MultiRoomSocket:
    def __init__(self, deps: SessionDeps, admission: Admission) -> None:
        self._deps = deps
        self._admission = admission

    def handle(self, websocket: WebSocket) -> Awaitable[None]:
        """A plain function returning the session's coroutine: no frame of its own stays on
        the connection's stack while it lasts."""
        try:
            user_id = resolve_user(websocket, self._deps.settings.auth_enabled)
        except IdentityError as err:
            return websocket.send_denial_response(
                JSONResponse({"error": str(err)}, status_code=400)
            )
        return serve_session(self._deps, self._admission, websocket, user_id)
