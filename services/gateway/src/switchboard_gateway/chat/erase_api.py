"""``POST /api/users/{userId}/erase`` (docs/protocol.md §4, "Erase a user"): a service token with
``users:erase`` erases everything the user wrote, and is answered with what was erased."""

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from switchboard_contracts import InvalidIdError
from switchboard_contracts.erase import UserEraseReply
from switchboard_contracts.ids import validate_user_id

from switchboard_gateway.chat.client import ChatClient
from switchboard_gateway.edge.auth import SCOPE_ERASE
from switchboard_gateway.edge.http_input import bus_error_response, error_response
from switchboard_gateway.edge.identity import missing_scope
from switchboard_gateway.settings import GatewaySettings

__all__ = ["erase_report", "erase_routes"]


def erase_report(reply: UserEraseReply) -> dict[str, Any]:
    """The report as the route answers it."""
    return {
        "userId": reply.user_id,
        "rooms": {
            room: {
                "messages": erased.messages,
                "edits": erased.edits,
                "reactions": erased.reactions,
                "reads": erased.reads,
            }
            for room, erased in sorted(reply.rooms.items())
        },
        "streamMessagesRemoved": reply.stream_messages_removed,
        "streamMessagesKept": reply.stream_messages_kept,
    }


def erase_routes(settings: GatewaySettings, chat: ChatClient) -> list[Route]:
    async def erase_user(request: Request) -> Response:
        missing = missing_scope(request, settings.auth_enabled, SCOPE_ERASE)
        if missing is not None:
            return error_response(403, missing)
        try:
            user_id = validate_user_id(request.path_params["user_id"])
        except InvalidIdError as err:
            return error_response(400, str(err), "userId")
        reply = await chat.erase_user(user_id)
        if reply.error is not None:
            return bus_error_response(reply.error)
        return JSONResponse(erase_report(reply))

    return [Route("/api/users/{user_id}/erase", erase_user, methods=["POST"])]
