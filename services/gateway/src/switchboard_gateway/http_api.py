"""The HTTP API (docs/protocol.md §4)."""

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from switchboard_contracts import ErrorCode, HistoryRequest, InvalidIdError, validate_room_id
from switchboard_contracts.chat import MAX_HISTORY_LIMIT

from switchboard_gateway.chat_client import ChatClient
from switchboard_gateway.frames import chat_frame_object

__all__ = ["api_routes"]


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _int_param(
    request: Request, name: str, default: int | None, low: int, high: int
) -> int | str | None:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        return f"{name} must be an integer"
    if not low <= value <= high:
        return f"{name} must be between {low} and {high}"
    return value


def api_routes(chat: ChatClient) -> list[Route]:
    async def room_messages(request: Request) -> Response:
        try:
            room = validate_room_id(request.path_params["room_id"])
        except InvalidIdError as err:
            return _error(400, str(err))
        before = _int_param(request, "before", None, 1, 2**62)
        limit = _int_param(request, "limit", 50, 1, MAX_HISTORY_LIMIT)
        for value in (before, limit):
            if isinstance(value, str):
                return _error(400, value)
        assert not isinstance(before, str)
        assert isinstance(limit, int)
        reply = await chat.history(HistoryRequest(room=room, before=before, limit=limit))
        if reply.error is not None:
            status = 503 if reply.error.code == ErrorCode.UNAVAILABLE else 500
            return _error(status, reply.error.message)
        return JSONResponse(
            {
                "room": room,
                "messages": [chat_frame_object(m) for m in reply.messages],
                "hasMore": reply.has_more,
            }
        )

    return [Route("/api/rooms/{room_id}/messages", room_messages, methods=["GET"])]
