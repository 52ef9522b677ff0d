"""The HTTP API for chat (docs/protocol.md §4): rooms, history pages, presence snapshots, and
a message's edits, deletion and versions, and read marks (the rooms list carries the caller's)."""

from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from switchboard_contracts import InvalidIdError, validate_room_id
from switchboard_contracts.chat import MAX_HISTORY_LIMIT
from switchboard_contracts.input_rules import INT64_MAX
from switchboard_contracts.reads import ReadState
from switchboard_contracts.rooms import Room, RoomCreateRequest

from switchboard_gateway.chat.client import ChatClient
from switchboard_gateway.chat.erase_api import erase_routes
from switchboard_gateway.chat.frames import chat_frame_object, presence_payload
from switchboard_gateway.chat.message_api import message_routes
from switchboard_gateway.chat.read_api import read_routes
from switchboard_gateway.chat.read_marks import ReadMarks
from switchboard_gateway.chat.room_log import RoomLog
from switchboard_gateway.edge.auth import SCOPE_ROOMS
from switchboard_gateway.edge.http_input import (
    NOT_JSON,
    Problem,
    ReadableRoom,
    bus_error_response,
    error_response,
    int_param,
    problem_response,
    read_json,
)
from switchboard_gateway.edge.identity import IdentityError, missing_scope, resolve_user
from switchboard_gateway.settings import GatewaySettings

__all__ = ["api_routes", "room_access", "room_object"]

_FIELDS = {"id": "id", "name": "name", "private": "private", "members": "members"}


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
        return error_response(422, "the body must be a JSON object")
    fields = {key: body[key] for key in _FIELDS if key in body and body[key] is not None}
    try:
        return RoomCreateRequest.model_validate({**fields, "created_by": user_id}, strict=True)
    except ValidationError as err:
        problem = err.errors()[0]
        field = str(problem["loc"][0]) if problem["loc"] else None
        where = ".".join(str(part) for part in problem["loc"])
        return error_response(422, f"{where}: {problem['msg']}", field)


def _add_reads(rooms: list[dict[str, Any]], states: list[ReadState]) -> None:
    """The caller's ``readSeq`` and ``unreadCount`` in each room of the list."""
    by_room = {state.room: state for state in states}
    for room in rooms:
        state = by_room.get(room["id"])
        if state is not None:
            room["readSeq"], room["unreadCount"] = state.seq, state.unread_count


def room_access(settings: GatewaySettings, chat: ChatClient) -> ReadableRoom:
    """The check every room route makes first (``ReadableRoom``)."""

    async def readable_room_of(request: Request) -> tuple[str, str] | JSONResponse:
        """The path's room and the requesting user (resolved once: an anonymous caller's id is
        new on each resolve), if the user may read the room."""
        try:
            room = validate_room_id(request.path_params["room_id"])
            user_id = resolve_user(request, settings.auth_enabled)
        except (InvalidIdError, IdentityError) as err:
            return error_response(400, str(err))
        access = await chat.access(room, user_id)
        if access.error is not None:
            return bus_error_response(access.error)
        if not access.allowed:
            return error_response(403, access.reason or f"room {room} is private")
        return room, user_id

    return readable_room_of


def api_routes(
    settings: GatewaySettings, chat: ChatClient, room_log: RoomLog, reads: ReadMarks
) -> list[Route]:

    readable_room_of = room_access(settings, chat)

    async def readable_room(request: Request) -> str | JSONResponse:
        """The path's room, if the requesting user may read it."""
        access = await readable_room_of(request)
        return access if isinstance(access, JSONResponse) else access[0]

    async def list_rooms(request: Request) -> Response:
        try:
            user_id = resolve_user(request, settings.auth_enabled)
        except IdentityError as err:
            return error_response(400, str(err))
        reply = await chat.rooms(user_id)
        if reply.error is not None:
            return bus_error_response(reply.error)
        rooms = [room_object(room) for room in reply.rooms]
        states = await reads.states(user_id, [room["id"] for room in rooms])
        if states.error is None:  # else the rooms go without: reads are not worth a 503
            _add_reads(rooms, states.states)
        return JSONResponse({"rooms": rooms})

    async def create_room(request: Request) -> Response:
        try:
            user_id = resolve_user(request, settings.auth_enabled)
        except IdentityError as err:
            return error_response(400, str(err))
        body = await read_json(request, settings.http_max_body_bytes, NOT_JSON)
        if isinstance(body, Problem):
            return problem_response(body)
        create = _create_request(body, user_id)
        if isinstance(create, JSONResponse):
            return create
        if create.private:
            missing = missing_scope(request, settings.auth_enabled, SCOPE_ROOMS)
            if missing is not None:
                return error_response(403, missing)
        reply = await chat.create_room(create)
        if reply.error is not None:
            return bus_error_response(reply.error)
        assert reply.room is not None
        return JSONResponse(room_object(reply.room), status_code=201)

    async def room_messages(request: Request) -> Response:
        before = int_param(request.query_params, "before", None, 1, INT64_MAX)
        limit = int_param(request.query_params, "limit", 50, 1, MAX_HISTORY_LIMIT)
        for value in (before, limit):
            if isinstance(value, Problem):
                return problem_response(value)
        assert not isinstance(before, Problem)
        assert isinstance(limit, int)
        room = await readable_room(request)
        if isinstance(room, JSONResponse):
            return room
        try:
            messages, has_more = await room_log.page(room, before, limit)
        except Exception:
            return error_response(503, "history is unavailable; retry")
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
            return bus_error_response(reply.error)
        assert reply.snapshot is not None
        return JSONResponse({"room": room, **presence_payload(reply.snapshot)})

    return [
        Route("/api/rooms", list_rooms, methods=["GET"]),
        Route("/api/rooms", create_room, methods=["POST"]),
        Route("/api/rooms/{room_id}/messages", room_messages, methods=["GET"]),
        *message_routes(settings, chat, readable_room_of),
        *read_routes(settings, reads, readable_room_of),
        Route("/api/rooms/{room_id}/presence", room_presence, methods=["GET"]),
        *erase_routes(settings, chat),
    ]
