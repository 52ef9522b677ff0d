"""``/chat/{roomId}``: the compatible WebSocket form, one connection in exactly one room.

Refused before the upgrade: a bad room id, user id or ``since`` (400), a private room the user
is not a member of (403), chat not answering (503).
"""

from starlette.responses import JSONResponse
from starlette.websockets import WebSocket
from switchboard_contracts import InvalidIdError, validate_room_id

from switchboard_gateway.chat.connections import serve_session
from switchboard_gateway.chat.session import SessionDeps
from switchboard_gateway.edge.identity import IdentityError, resolve_user
from switchboard_gateway.edge.limits import Admission

__all__ = ["ChatSocket"]


def _since(websocket: WebSocket) -> int | None:
    raw = websocket.query_params.get("since")
    if raw is None:
        return None
    if not raw.isdigit():
        raise ValueError(f"since must be an integer >= 0 (got {raw[:40]!r})")
    return int(raw)


class ChatSocket:
    def __init__(self, deps: SessionDeps, admission: Admission) -> None:
        self._deps = deps
        self._admission = admission

    async def handle(self, websocket: WebSocket) -> None:
        try:
            room = validate_room_id(websocket.path_params["room_id"])
            user_id = resolve_user(websocket, self._deps.settings.auth_enabled)
            since = _since(websocket)
        except (InvalidIdError, IdentityError, ValueError) as err:
            await _deny(websocket, 400, str(err))
            return
        access = await self._deps.chat.access(room, user_id)
        if access.error is not None:
            await _deny(websocket, 503, access.error.message)
            return
        if not access.allowed:
            await _deny(websocket, 403, access.reason or f"room {room} is private")
            return
        await serve_session(
            self._deps, self._admission, websocket, user_id, fixed_room=room, since=since
        )


async def _deny(websocket: WebSocket, status: int, message: str) -> None:
    await websocket.send_denial_response(JSONResponse({"error": message}, status_code=status))
