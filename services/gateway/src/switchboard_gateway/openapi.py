"""The OpenAPI 3.1 document of the gateway's HTTP API, served at ``GET /openapi.json``.

Built in code, not kept as a file: every limit in it (id pattern, lengths, ranges, the body size)
is the constant or setting the gateway enforces, so the document cannot drift from the code;
``tests/test_openapi.py`` checks it against the app's routes and the OpenAPI 3.1 schema, and
``tests/e2e/test_edge_fuzz.py`` fuzzes a real gateway from it. docs/protocol.md stays the prose.
"""

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from switchboard_contracts.chat import (
    MAX_CLIENT_MSG_ID_LENGTH,
    MAX_CONTENT_LENGTH,
    MAX_HISTORY_LIMIT,
)
from switchboard_contracts.dashboard import LOG_LEVELS
from switchboard_contracts.ids import ID_PATTERN
from switchboard_contracts.input_rules import INT64_MAX
from switchboard_contracts.notify import (
    MAX_INBOX_LIMIT,
    MAX_MESSAGE_LENGTH,
    MAX_TITLE_LENGTH,
    NotificationType,
)
from switchboard_contracts.reactions import MAX_EMOJI_BYTES
from switchboard_contracts.reads import MAX_UNREAD_COUNTED
from switchboard_contracts.rooms import MAX_ROOM_MEMBERS, MAX_ROOM_NAME_LENGTH

from switchboard_gateway.notifications import params as notify_params
from switchboard_gateway.notifications.http_api import MAX_POLL_TIMEOUT_SECONDS
from switchboard_gateway.settings import GatewaySettings

__all__ = ["OPENAPI_PATH", "openapi_document", "openapi_routes"]

OPENAPI_PATH = "/openapi.json"

_ID = {"type": "string", "pattern": f"^{ID_PATTERN.pattern}$"}
_INT64 = {"type": "integer", "minimum": 0, "maximum": INT64_MAX}
_TEXT_RULE = (
    "Every string follows the input rule (docs/protocol.md, Input rules): valid Unicode without "
    "U+0000 and without lone surrogates; one that breaks it gets 422 naming its field."
)

_STATUS_TEXT = {
    400: "Bad request: a parameter (named in `field` or the message) or a body that is not JSON",
    401: "No valid token (auth enabled); `WWW-Authenticate: Bearer`",
    403: "Forbidden: another origin, a missing service scope, a private room or another team",
    404: "Not found",
    409: "Conflict: the id is taken",
    413: "The body is larger than the limit",
    422: "A field of the body is invalid; `field` names it",
    429: "Too many for this user: open streams and long-polls, or edits and deletions",
    503: "A service behind the gateway does not answer; retry",
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for status in statuses:
        answer = _json(_ref("Error"), _STATUS_TEXT[status])
        if status == 401:
            answer["headers"] = {
                "WWW-Authenticate": {"schema": {"type": "string", "const": "Bearer"}}
            }
        answers[str(status)] = answer
    return answers


def _query(name: str, schema: dict[str, Any], description: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": schema, "description": description, **extra}


def _path(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": _ID, "description": description}


_USER_ID = _query(
    "userId", _ID, "The user, with auth disabled only (local development); ignored with auth."
)


def _operation(
    summary: str,
    answers: dict[str, Any],
    *,
    parameters: list[dict[str, Any]] | None = None,
    body: str | None = None,
    public: bool = False,
) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": summary, "responses": answers}
    if parameters:
        operation["parameters"] = parameters
    if body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(body)}},
        }
    if public:
        operation["security"] = []
    return operation


def _event_stream(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/event-stream": {}}}


def _schemas() -> dict[str, Any]:
    notification = {
        "type": "object",
        "required": ["id", "type", "title", "message", "timestamp", "read", "cursor", "userId"],
        "properties": {
            "id": {"type": "string"},
            "type": {"enum": [t.value for t in NotificationType]},
            "title": {"type": "string"},
            "message": {"type": "string"},
            "timestamp": {"type": "integer"},
            "read": {"type": "boolean"},
            "cursor": {
                **_INT64,
                "description": "Its position in the inbox: increasing, not consecutive",
            },
            "userId": {"type": "string"},
            "broadcastId": {"type": "string"},
            "team": {"type": "string"},
        },
    }
    content = {
        "type": {
            "enum": [t.value for t in NotificationType],
            "default": NotificationType.INFO.value,
        },
        "title": {"type": "string", "minLength": 1, "maxLength": MAX_TITLE_LENGTH},
        "message": {"type": "string", "minLength": 1, "maxLength": MAX_MESSAGE_LENGTH},
    }
    return {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {"type": "string", "description": "What is wrong"},
                "field": {"type": ["string", "null"], "description": "The field at fault"},
            },
        },
        "Room": {
            "type": "object",
            "required": ["id", "name", "private", "members", "createdBy", "createdAt"],
            "properties": {
                "id": _ID,
                "name": {"type": "string"},
                "private": {"type": "boolean"},
                "members": {"type": "array", "items": _ID},
                "createdBy": {"type": ["string", "null"]},
                "createdAt": {"type": "integer"},
                "readSeq": {
                    **_INT64,
                    "description": "In the rooms list: the caller's read mark (0: none yet)",
                },
                "unreadCount": {
                    "type": "integer",
                    "minimum": 0,
                    "maximum": MAX_UNREAD_COUNTED,
                    "description": "In the rooms list: others' messages after the caller's mark"
                    f" (at most {MAX_UNREAD_COUNTED})",
                },
            },
        },
        "ReadMark": {
            "type": "object",
            "required": ["seq"],
            "properties": {
                "seq": {**_INT64, "description": "Read up to this seq (clamped to the head)"}
            },
        },
        "ReadState": {
            "type": "object",
            "required": ["room", "userId", "seq", "unreadCount", "upto"],
            "properties": {
                "room": _ID,
                "userId": _ID,
                "seq": {**_INT64, "description": "The stored mark: never moves back"},
                "unreadCount": {"type": "integer", "minimum": 0, "maximum": MAX_UNREAD_COUNTED},
                "upto": {**_INT64, "description": "The head the unread count goes up to"},
            },
        },
        "RoomCreate": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "id": {**_ID, "description": "Generated when missing"},
                "name": {"type": "string", "minLength": 1, "maxLength": MAX_ROOM_NAME_LENGTH},
                "private": {
                    "type": "boolean",
                    "default": False,
                    "description": "Needs the scope `rooms:manage` when auth is on",
                },
                "members": {"type": "array", "items": _ID, "maxItems": MAX_ROOM_MEMBERS},
            },
        },
        "ChatFrame": {
            "type": "object",
            "required": ["type", "payload", "timestamp", "senderId", "room", "id", "seq"],
            "properties": {
                "type": {
                    "enum": ["chat", "edit", "delete", "react", "unreact"],
                    "description": "A message (in its current state, with its `reactions`), or"
                    " an edit, a deletion or a reaction of one, at its own seq",
                },
                "payload": {"type": "object"},
                "timestamp": {"type": "integer"},
                "senderId": {"type": "string"},
                "room": {"type": "string"},
                "id": {"type": "string"},
                "seq": {"type": "integer"},
            },
        },
        "MessageEdit": {
            "type": "object",
            "required": ["content"],
            "properties": {
                "content": {"type": "string", "maxLength": MAX_CONTENT_LENGTH},
                "clientMsgId": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": MAX_CLIENT_MSG_ID_LENGTH,
                },
            },
        },
        "Change": {
            "type": "object",
            "required": ["id", "seq", "room"],
            "properties": {
                "clientMsgId": {"type": ["string", "null"]},
                "id": {"type": "string"},
                "seq": {"type": "integer"},
                "room": {"type": "string"},
            },
        },
        "Versions": {
            "type": "object",
            "required": ["room", "messageId", "versions", "deleted"],
            "properties": {
                "room": _ID,
                "messageId": {"type": "string"},
                "versions": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["seq", "content", "timestamp"],
                        "properties": {
                            "seq": {"type": "integer"},
                            "content": {"type": "string"},
                            "timestamp": {"type": "integer"},
                        },
                    },
                },
                "deleted": {"type": "boolean"},
            },
        },
        "Notification": notification,
        "NotificationSend": {
            "type": "object",
            "required": ["userId", "title", "message"],
            "properties": {"userId": _ID, **content},
        },
        "NotificationBroadcast": {
            "type": "object",
            "required": ["title", "message"],
            "properties": {
                "team": {**_ID, "description": "Only this team's members; else every known user"},
                **content,
            },
        },
        "Unread": {
            "type": "object",
            "required": ["success", "unreadCount"],
            "properties": {"success": {"const": True}, "unreadCount": {"type": "integer"}},
        },
    }


def _paths(settings: GatewaySettings) -> dict[str, Any]:
    history_before = _query(
        "before", {**_INT64, "minimum": 1}, "A `seq`: messages before it (default: the newest)"
    )
    limit = _query(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": MAX_HISTORY_LIMIT, "default": 50},
        "Page size",
    )
    room = _path("roomId", "A room id")
    message = _path("messageId", "A message's `id`")
    emoji = {
        "name": "emoji",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "minLength": 1, "maxLength": MAX_EMOJI_BYTES},
        "description": "The emoji, percent-encoded: at most 32 bytes of UTF-8, no whitespace or"
        " control characters (docs/protocol.md §2, Reactions)",
    }
    streams = (
        "The user's streams and long-polls together are limited (`MAX_STREAMS_PER_USER`, 429)."
    )
    teams = _query(
        "team",
        {"type": "array", "items": _ID},
        "Teams for team broadcasts (auth disabled only; with auth, the token's `teams`)",
        style="form",
        explode=True,
    )
    return {
        "/api/rooms": {
            "get": _operation(
                "The public rooms and the private ones the user is a member of, oldest first",
                {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["rooms"],
                            "properties": {"rooms": {"type": "array", "items": _ref("Room")}},
                        },
                        "The rooms",
                    ),
                    **_errors(400, 401, 403, 503),
                },
                parameters=[_USER_ID],
            ),
            "post": _operation(
                f"Create a room (a body of at most {settings.http_max_body_bytes} bytes)",
                {
                    "201": _json(_ref("Room"), "The created room"),
                    **_errors(400, 401, 403, 409, 413, 422, 503),
                },
                parameters=[_USER_ID],
                body="RoomCreate",
            ),
        },
        "/api/rooms/{roomId}/messages": {
            "get": _operation(
                "A history page, newest first",
                {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["room", "messages", "hasMore"],
                            "properties": {
                                "room": _ID,
                                "messages": {"type": "array", "items": _ref("ChatFrame")},
                                "hasMore": {"type": "boolean"},
                            },
                        },
                        "The page",
                    ),
                    **_errors(400, 401, 403, 503),
                },
                parameters=[room, history_before, limit, _USER_ID],
            ),
        },
        "/api/rooms/{roomId}/messages/{messageId}": {
            "patch": _operation(
                "Edit a message (the author, or the scope `rooms:moderate`): as the `edit` frame",
                {
                    "200": _json(_ref("Change"), "The edit is stored: its ack"),
                    **_errors(400, 401, 403, 404, 413, 422, 429, 503),
                },
                parameters=[room, message, _USER_ID],
                body="MessageEdit",
            ),
            "delete": _operation(
                "Delete a message (the author, or the scope `rooms:moderate`): as the `delete`"
                ' frame; an optional body `{"clientMsgId"}`',
                {
                    "200": _json(_ref("Change"), "The deletion is stored: its ack"),
                    **_errors(400, 401, 403, 404, 413, 422, 429, 503),
                },
                parameters=[room, message, _USER_ID],
            ),
        },
        "/api/rooms/{roomId}/messages/{messageId}/reactions/{emoji}": {
            "put": _operation(
                "React to a message with an emoji (any user who may read the room): as the"
                ' `react` frame; an optional body `{"clientMsgId"}`',
                {
                    "200": _json(_ref("Change"), "The reaction is stored: its ack"),
                    **_errors(400, 401, 403, 404, 413, 422, 429, 503),
                },
                parameters=[room, message, emoji, _USER_ID],
            ),
            "delete": _operation(
                'Take a reaction back: as the `unreact` frame; an optional body `{"clientMsgId"}`',
                {
                    "200": _json(_ref("Change"), "The reaction is taken back: its ack"),
                    **_errors(400, 401, 403, 404, 413, 422, 429, 503),
                },
                parameters=[room, message, emoji, _USER_ID],
            ),
        },
        "/api/rooms/{roomId}/messages/{messageId}/versions": {
            "get": _operation(
                "Every version of a message, oldest first",
                {
                    "200": _json(_ref("Versions"), "The versions"),
                    **_errors(400, 401, 403, 404, 503),
                },
                parameters=[room, message, _USER_ID],
            ),
        },
        "/api/rooms/{roomId}/read": {
            "post": _operation(
                "Mark the room read up to a seq (never back): as the `read` frame",
                {
                    "200": _json(_ref("ReadState"), "The mark is stored"),
                    **_errors(400, 401, 403, 413, 422, 429, 503),
                },
                parameters=[room, _USER_ID],
                body="ReadMark",
            ),
        },
        "/api/rooms/{roomId}/presence": {
            "get": _operation(
                "The room's presence snapshot",
                {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["room", "onlineUsers", "count"],
                            "properties": {
                                "room": _ID,
                                "onlineUsers": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "required": ["userId", "connectedAt"],
                                        "properties": {
                                            "userId": {"type": "string"},
                                            "connectedAt": {"type": "string"},
                                        },
                                    },
                                },
                                "count": {"type": "integer", "minimum": 0},
                                "truncated": {"type": "boolean"},
                            },
                        },
                        "The snapshot",
                    ),
                    **_errors(400, 401, 403, 503),
                },
                parameters=[room, _USER_ID],
            ),
        },
        "/api/users/{userId}/erase": {
            "post": _operation(
                "Erase everything a user wrote, in PostgreSQL and the CHAT stream, tombstones"
                " left in place (scope `users:erase`); synchronous: answered with the report",
                {
                    "200": _json(
                        {
                            "type": "object",
                            "required": [
                                "userId",
                                "rooms",
                                "streamMessagesRemoved",
                                "streamMessagesKept",
                            ],
                            "properties": {
                                "userId": _ID,
                                "rooms": {
                                    "type": "object",
                                    "additionalProperties": {
                                        "type": "object",
                                        "required": [
                                            "messages",
                                            "edits",
                                            "reactions",
                                            "reads",
                                        ],
                                        "properties": {
                                            "messages": {"type": "integer", "minimum": 0},
                                            "edits": {"type": "integer", "minimum": 0},
                                            "reactions": {"type": "integer", "minimum": 0},
                                            "reads": {"type": "integer", "minimum": 0},
                                        },
                                    },
                                },
                                "streamMessagesRemoved": {"type": "integer", "minimum": 0},
                                "streamMessagesKept": {"type": "integer", "minimum": 0},
                            },
                        },
                        "Erased: what this erasure changed (nothing new on a rerun)",
                    ),
                    **_errors(400, 401, 403, 503),
                },
                parameters=[_path("userId", "The user to erase")],
            ),
        },
        "/api/notifications/send": {
            "post": _operation(
                "Send a notification to one user's inbox (scope `notifications:send`)",
                {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["success", "notificationId", "cursor"],
                            "properties": {
                                "success": {"const": True},
                                "notificationId": {"type": "string"},
                                "cursor": {**_INT64, "minimum": 1},
                            },
                        },
                        "Stored in the user's inbox",
                    ),
                    **_errors(400, 401, 403, 413, 422, 503),
                },
                body="NotificationSend",
            ),
        },
        "/api/notifications/broadcast": {
            "post": _operation(
                "Broadcast to every known user or a team (scope `notifications:broadcast`)",
                {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["success", "broadcastId"],
                            "properties": {
                                "success": {"const": True},
                                "broadcastId": {"type": "string"},
                            },
                        },
                        "Durably accepted; delivered in the background",
                    ),
                    **_errors(400, 401, 403, 413, 422, 503),
                },
                body="NotificationBroadcast",
            ),
        },
        "/api/notifications": {
            "get": _operation(
                "The user's inbox, newest first",
                {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["notifications", "unreadCount", "hasMore"],
                            "properties": {
                                "notifications": {
                                    "type": "array",
                                    "items": _ref("Notification"),
                                },
                                "unreadCount": {"type": "integer", "minimum": 0},
                                "hasMore": {"type": "boolean"},
                            },
                        },
                        "A page of the inbox",
                    ),
                    **_errors(400, 401, 403, 503),
                },
                parameters=[
                    _query("unreadOnly", {"type": "boolean", "default": False}, "Unread only"),
                    _query("before", {**_INT64, "minimum": 1}, "A cursor: entries before it"),
                    _query(
                        "limit",
                        {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": MAX_INBOX_LIMIT,
                            "default": 20,
                        },
                        "Page size",
                    ),
                    _USER_ID,
                ],
            ),
        },
        "/api/notifications/{notificationId}/read": {
            "post": _operation(
                "Mark one notification read",
                {"200": _json(_ref("Unread"), "Read"), **_errors(400, 401, 403, 404, 503)},
                parameters=[_path("notificationId", "A notification's id"), _USER_ID],
            ),
        },
        "/api/notifications/read-all": {
            "post": _operation(
                "Mark every notification read",
                {"200": _json(_ref("Unread"), "Read"), **_errors(400, 401, 403, 503)},
                parameters=[_USER_ID],
            ),
        },
        "/api/notifications/poll": {
            "get": _operation(
                "Long-poll: the notifications after `cursor`, or none at `timeout`. " + streams,
                {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["notifications", "cursor", "reset"],
                            "properties": {
                                "notifications": {
                                    "type": "array",
                                    "items": _ref("Notification"),
                                    "maxItems": MAX_INBOX_LIMIT,
                                },
                                "cursor": _INT64,
                                "reset": {"type": "boolean"},
                            },
                        },
                        "What came after the cursor (oldest first)",
                    ),
                    **_errors(400, 401, 403, 429, 503),
                },
                parameters=[
                    _query("cursor", _INT64, "Where the client stopped (default: the newest)"),
                    _query(
                        "timeout",
                        {"type": "number", "minimum": 0, "maximum": MAX_POLL_TIMEOUT_SECONDS},
                        "Seconds to wait (default 25)",
                    ),
                    _USER_ID,
                ],
            ),
        },
        "/api/notifications/stream": {
            "get": _operation(
                "The user's notifications as Server-Sent Events (`ready` or `reset`, then "
                "`notification` and `unread`). " + streams,
                {
                    "200": _event_stream("An endless event stream"),
                    **_errors(400, 401, 403, 429, 503),
                },
                parameters=[
                    _query(
                        "lastEventId",
                        {"type": "string"},
                        "Resume after this cursor; one the inbox never reached, or not a"
                        " number, gets `reset`",
                    ),
                    {
                        "name": "Last-Event-ID",
                        "in": "header",
                        "schema": {"type": "string"},
                        "description": "As `lastEventId`; wins when both are present",
                    },
                    teams,
                    _USER_ID,
                ],
            ),
        },
        "/api/dashboard/stream": {
            "get": _operation(
                "A team's live dashboard as Server-Sent Events (`metrics-update`, `alert`, "
                "`log-entry`); with auth, only for members of the team. " + streams,
                {
                    "200": _event_stream("An endless event stream"),
                    **_errors(400, 401, 403, 429),
                },
                parameters=[
                    _query("team", _ID, "The team", required=True),
                    _query(
                        "level",
                        {"enum": [*LOG_LEVELS, "warn", "fatal"]},
                        "`log-entry` events at this level and above",
                    ),
                    _query("source", _ID, "`log-entry` events from this service only"),
                    _USER_ID,
                ],
            ),
        },
        "/healthz": {
            "get": _operation(
                "Alive",
                {"200": _json({"type": "object"}, "Alive")},
                public=True,
            ),
        },
        "/readyz": {
            "get": _operation(
                "Ready to serve (false while draining)",
                {
                    "200": _json({"type": "object"}, "Ready"),
                    "503": _json({"type": "object"}, "Not ready: `failing` names why"),
                },
                public=True,
            ),
        },
        "/metrics": {
            "get": _operation(
                "Prometheus metrics",
                {"200": {"description": "Text format", "content": {"text/plain": {}}}},
                public=True,
            ),
        },
        OPENAPI_PATH: {
            "get": _operation(
                "This document",
                {"200": _json({"type": "object"}, "OpenAPI 3.1")},
                public=True,
            ),
        },
    }


def openapi_document(settings: GatewaySettings) -> dict[str, Any]:
    """The document for a gateway with these settings (its body limit)."""
    body_limit = min(settings.http_max_body_bytes, notify_params.MAX_BODY_BYTES)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Switchboard gateway",
            "version": "1",
            "description": (
                "The gateway's HTTP API; docs/protocol.md is the contract in prose. Errors are "
                '`{"error", "field"?}`. Bodies are JSON objects (notification bodies at most '
                f"{body_limit} bytes, others at most {settings.http_max_body_bytes}; 413 beyond). "
                + _TEXT_RULE
                + " Integers stay within their documented range (at most 2^63-1): 400 naming "
                "the parameter."
            ),
        },
        "paths": _paths(settings),
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": (
                        "With auth enabled: a JWT (docs/protocol.md §1), from this header, the "
                        "`access_token` cookie or the `token` query parameter."
                    ),
                }
            },
        },
        "security": [{"bearer": []}],
    }


def openapi_routes(settings: GatewaySettings) -> list[Route]:
    document = openapi_document(settings)

    async def serve(_: Request) -> Response:
        return JSONResponse(document)

    return [Route(OPENAPI_PATH, serve, methods=["GET"])]
