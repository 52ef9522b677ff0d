"""A message's edits, deletion, reactions and versions over HTTP (docs/protocol.md §4).

``PATCH`` and ``DELETE /api/rooms/{room}/messages/{id}`` are the ``edit`` and ``delete`` frames
of §2 for callers without a WebSocket: the same request to chat, the same rules (the author or
``rooms:moderate``), answered with what the ``ack`` frame says. They count against a per-user
limit of their own (``USER_FRAMES_PER_SECOND``, bursts ``USER_FRAME_BURST``): 429 beyond it.
``PUT`` and ``DELETE …/{id}/reactions/{emoji}`` are the ``react`` and ``unreact`` frames, any
user who may read the room allowed, under the same per-user limit.
"""

import time

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from switchboard_contracts import ChatSendRequest, EventKind
from switchboard_contracts.chat import MAX_CLIENT_MSG_ID_LENGTH
from switchboard_contracts.ids import ID_PATTERN
from switchboard_contracts.reactions import emoji_problem

from switchboard_gateway.chat.client import ChatClient
from switchboard_gateway.chat.frames import versions_payload
from switchboard_gateway.edge.auth import SCOPE_MODERATE
from switchboard_gateway.edge.http_input import (
    NOT_JSON,
    Problem,
    ReadableRoom,
    bus_error_response,
    error_response,
    problem_response,
    read_json,
)
from switchboard_gateway.edge.identity import identity_of
from switchboard_gateway.edge.limits import UserBuckets
from switchboard_gateway.settings import GatewaySettings

__all__ = ["message_routes"]


"""The path's room if the requesting user may read it, else the refusal (``http_api``)."""


def _message_id(request: Request) -> str | JSONResponse:
    message_id: str = request.path_params["message_id"]
    if not ID_PATTERN.fullmatch(message_id):
        return error_response(400, "the message id is not a message id", "messageId")
    return message_id


def _change_fields(body: object, edit: bool) -> tuple[str, str | None] | JSONResponse:
    """An edit's ``content`` and either's optional ``clientMsgId``, from the JSON body (a
    deletion may have none)."""
    if body is None and not edit:
        return "", None
    if not isinstance(body, dict):
        return error_response(422, "the body must be a JSON object")
    content = body.get("content")
    if edit and not isinstance(content, str):
        return error_response(422, "content is required and must be a string", "content")
    client_msg_id = body.get("clientMsgId")
    if client_msg_id is not None and (
        not isinstance(client_msg_id, str)
        or not 1 <= len(client_msg_id) <= MAX_CLIENT_MSG_ID_LENGTH
    ):
        return error_response(
            422,
            f"clientMsgId must be a string of 1-{MAX_CLIENT_MSG_ID_LENGTH} characters",
            "clientMsgId",
        )
    return (content if isinstance(content, str) and edit else ""), client_msg_id


def _emoji(request: Request) -> str | JSONResponse:
    """The path's emoji (percent-decoded), if it follows the emoji rule; else 422 naming it."""
    emoji: str = request.path_params["emoji"]
    problem = emoji_problem(emoji)
    if problem is not None:
        return error_response(422, problem, "emoji")
    return emoji


def _target(request: Request, reaction: bool) -> tuple[str, str] | JSONResponse:
    """The path's message id and (a reaction's) emoji, or the refusal of the first bad one."""
    message_id = _message_id(request)
    if isinstance(message_id, JSONResponse):
        return message_id
    emoji = _emoji(request) if reaction else ""
    if isinstance(emoji, JSONResponse):
        return emoji
    return message_id, emoji


def message_routes(
    settings: GatewaySettings, chat: ChatClient, readable_room: ReadableRoom
) -> list[Route]:
    changes = UserBuckets(settings.user_frames_per_second, settings.user_frame_burst)

    async def change_request(
        request: Request, reaction: bool = False
    ) -> ChatSendRequest | JSONResponse:
        """The edit (``PATCH``), deletion (``DELETE``) or reaction (``reaction``: ``PUT`` adds,
        ``DELETE`` takes back) the request asks for, or why not."""
        edit = request.method == "PATCH"
        target = _target(request, reaction)
        if isinstance(target, JSONResponse):
            return target
        message_id, emoji = target
        body = None
        if edit or request.headers.get("content-length", "0") != "0":
            body = await read_json(request, settings.http_max_body_bytes, NOT_JSON)
        fields = problem_response(body) if isinstance(body, Problem) else _change_fields(body, edit)
        if isinstance(fields, JSONResponse):
            return fields
        access = await readable_room(request)
        if isinstance(access, JSONResponse):
            return access
        room, user_id = access
        if not changes.allow(user_id, time.monotonic()):
            return error_response(429, "too many edits, deletions and reactions; slow down")
        if reaction:
            return ChatSendRequest(
                room=room,
                user_id=user_id,
                content=emoji,
                client_msg_id=fields[1],
                kind=EventKind.REACT if request.method == "PUT" else EventKind.UNREACT,
                target_id=message_id,
            )
        identity = identity_of(request)
        return ChatSendRequest(
            room=room,
            user_id=user_id,
            content=fields[0],
            client_msg_id=fields[1],
            kind=EventKind.EDIT if edit else EventKind.DELETE,
            target_id=message_id,
            moderator=identity is not None and SCOPE_MODERATE in identity.scopes,
        )

    async def change_message(request: Request) -> Response:
        """``PATCH`` (an edit) or ``DELETE``: answered as the ``ack`` frame's payload."""
        return await send_change(await change_request(request))

    async def react(request: Request) -> Response:
        """``PUT`` (a reaction added) or ``DELETE`` (taken back): as the ``ack`` frame."""
        return await send_change(await change_request(request, reaction=True))

    async def send_change(change: ChatSendRequest | JSONResponse) -> Response:
        if isinstance(change, JSONResponse):
            return change
        reply = await chat.send(change)
        if reply.error is not None:
            return bus_error_response(reply.error)
        assert reply.message is not None
        stored = reply.message
        return JSONResponse(
            {
                "clientMsgId": stored.client_msg_id,
                "id": stored.id,
                "seq": stored.seq,
                "room": stored.room,
            }
        )

    async def message_versions(request: Request) -> Response:
        message_id = _message_id(request)
        if isinstance(message_id, JSONResponse):
            return message_id
        access = await readable_room(request)
        if isinstance(access, JSONResponse):
            return access
        room, _ = access
        reply = await chat.versions(room, message_id)
        if reply.error is not None:
            return bus_error_response(reply.error)
        return JSONResponse(versions_payload(room, message_id, reply))

    return [
        Route(
            "/api/rooms/{room_id}/messages/{message_id}",
            change_message,
            methods=["PATCH", "DELETE"],
        ),
        Route(
            "/api/rooms/{room_id}/messages/{message_id}/reactions/{emoji}",
            react,
            methods=["PUT", "DELETE"],
        ),
        Route(
            "/api/rooms/{room_id}/messages/{message_id}/versions",
            message_versions,
            methods=["GET"],
        ),
    ]
