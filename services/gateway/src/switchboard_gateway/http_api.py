"""The HTTP API for chat (docs/protocol.md §4): rooms, history pages, presence snapshots."""

import json
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from switchboard_contracts import BusError, ErrorCode, InvalidIdError, validate_room_id
from switchboard_contracts.chat import MAX_HISTORY_LIMIT
from switchboard_contracts.rooms import Room, RoomCreateRequest

from switchboard_gateway.auth import SCOPE_ROOMS
from switchboard_gateway.chat_client import ChatClient
from switchboard_gateway.frames import chat_frame_object, presence_payload
from switchboard_gateway.identity import IdentityError, missing_scope, resolve_user
from switchboard_gateway.room_log import RoomLog
from switchboard_gateway.settings import GatewaySettings

__all__ = ["api_routes", "room_object"]

_STATUS = {
    ErrorCode.UNAVAILABLE: 503,
    ErrorCode.CONFLICT: 409,
    ErrorCode.INVALID_INPUT: 422,
    ErrorCode.FORBIDDEN: 403,
}
_FIELDS = {"id": "id", "name": "name", "private": "private", "members": "members"}


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


def _bus_error(error: BusError) -> JSONResponse:
    return _error(_STATUS.get(error.code, 500), error.message)


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


def room_object(room: Room) -> dict[str, Any]:
    return {
        "id": room.id,
        "name": room.name,
        "private": room.private,
        "members": room.members,
        "createdBy": room.created_by,
        "createdAt": room.created_at,
    }


def _create_request(body: object, user_id: str) -> RoomCreateRequest | JSONResponse:
    if not isinstance(body, dict):
        return _error(422, "the body must be a JSON object", field=None)
    fields = {key: body[key] for key in _FIELDS if key in body and body[key] is not None}
    try:
        return RoomCreateRequest.model_validate({**fields, "created_by": user_id}, strict=True)
    except ValidationError as err:
        problem = err.errors()[0]
        field = str(problem["loc"][0]) if problem["loc"] else None
        where = ".".join(str(part) for part in problem["loc"])
        return _error(422, f"{where}: {problem['msg']}", field=field)


def api_routes(settings: GatewaySettings, chat: ChatClient, room_log: RoomLog) -> list[Route]:
    async def readable_room(request: Request) -> str | JSONResponse:
        """The path's room, if the requesting user may read it."""
        try:
            room = validate_room_id(request.path_params["room_id"])
            user_id = resolve_user(request, settings.auth_enabled)
        except (InvalidIdError, IdentityError) as err:
            return _error(400, str(err))
        access = await chat.access(room, user_id)
        if access.error is not None:
            return _bus_error(access.error)
        if not access.allowed:
            return _error(403, access.reason or f"room {room} is private")
        return room

    async def list_rooms(request: Request) -> Response:
        try:
            user_id = resolve_user(request, settings.auth_enabled)
        except IdentityError as err:
            return _error(400, str(err))
        reply = await chat.rooms(user_id)
        if reply.error is not None:
            return _bus_error(reply.error)
        return JSONResponse({"rooms": [room_object(room) for room in reply.rooms]})

    async def create_room(request: Request) -> Response:
        try:
            user_id = resolve_user(request, settings.auth_enabled)
        except IdentityError as err:
            return _error(400, str(err))
        try:
            body = json.loads(await request.body())
        except ValueError:
            return _error(400, "the body must be JSON")
        create = _create_request(body, user_id)
        if isinstance(create, JSONResponse):
            return create
        if create.private:
            missing = missing_scope(request, settings.auth_enabled, SCOPE_ROOMS)
            if missing is not None:
                return _error(403, missing)
        reply = await chat.create_room(create)
        if reply.error is not None:
            return _bus_error(reply.error)
        assert reply.room is not None
        return JSONResponse(room_object(reply.room), status_code=201)

    async def room_messages(request: Request) -> Response:
        before = _int_param(request, "before", None, 1, 2**62)
        limit = _int_param(request, "limit", 50, 1, MAX_HISTORY_LIMIT)
        for value in (before, limit):
            if isinstance(value, str):
                return _error(400, value)
        assert not isinstance(before, str)
        assert isinstance(limit, int)
        room = await readable_room(request)
        if isinstance(room, JSONResponse):
            return room
        try:
            messages, has_more = await room_log.page(room, before, limit)
        except Exception:
            return _error(503, "history is unavailable; retry")
        return JSONResponse(
            {
                "room": room,
                "messages": [chat_frame_object(m) for m in messages],
                "hasMore": has_more,
            }
        )

    async def room_presence(request: Request) -> Response:
        room = await readable_room(request)
        if isinstance(room, JSONResponse):
            return room
        reply = await chat.presence(room)
        if reply.error is not None:
            return _bus_error(reply.error)
        assert reply.snapshot is not None
        return JSONResponse({"room": room, **presence_payload(reply.snapshot)})

    return [
        Route("/api/rooms", list_rooms, methods=["GET"]),
        Route("/api/rooms", create_room, methods=["POST"]),
        Route("/api/rooms/{room_id}/messages", room_messages, methods=["GET"]),
        Route("/api/rooms/{room_id}/presence", room_presence, methods=["GET"]),
    ]
