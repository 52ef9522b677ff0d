"""The edge guard: every WebSocket handshake and every API request passes it before any endpoint.

In order: the input rule on an HTTP request's path, query and the headers read (400 naming the
parameter, ``http_input.request_problem``), the origin allow-list (403, exact match; only
requests carrying ``Origin``), the HTTP body size (413), the token (401 with auth enabled; the
verified ``Identity`` is put in the ASGI scope for ``identity.resolve_user``), and SSE/long-poll
streams per user (429). A WebSocket is
refused with an HTTP status before it is accepted, so a refused client never subscribes to
anything. Health, readiness, metrics and the static demo page are not guarded.
"""

import logging
from collections.abc import Awaitable

from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from switchboard_contracts import InvalidIdError, validate_user_id

from switchboard_gateway.edge.auth import Authenticator
from switchboard_gateway.edge.http_input import error_response, request_problem
from switchboard_gateway.edge.identity import IDENTITY_SCOPE_KEY, identity_of
from switchboard_gateway.edge.limits import UserCounter
from switchboard_gateway.edge.origins import OriginPolicy
from switchboard_gateway.edge.tokens import AuthError

__all__ = ["GUARDED_PREFIXES", "STREAM_PATHS", "EdgeGuard"]

log = logging.getLogger(__name__)

GUARDED_PREFIXES = ("/api/", "/ws", "/chat/", "/socket.io")
STREAM_PATHS = frozenset(
    {"/api/notifications/stream", "/api/notifications/poll", "/api/dashboard/stream"}
)


class _BodyTooLargeError(Exception):
    pass


class EdgeGuard:
    def __init__(
        self,
        app: ASGIApp,
        *,
        authenticator: Authenticator | None,
        origins: OriginPolicy,
        max_body_bytes: int,
        streams: UserCounter,
    ) -> None:
        self.app = app
        self._auth = authenticator
        self._origins = origins
        self._max_body = max_body_bytes
        self._streams = streams

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        kind = scope["type"]
        if kind == "websocket":
            return self._socket(scope, receive, send)
        if kind != "http" or (
            scope.get("method") == "OPTIONS"
            or not str(scope.get("path", "")).startswith(GUARDED_PREFIXES)
        ):
            return self.app(scope, receive, send)
        return self._http(scope, receive, send)

    async def _socket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refused before the upgrade, like a bad token; else straight on. Its frame stays on
        an open WebSocket's stack, so it holds no more than the four names (memory per idle
        connection), and a WebSocket body is not bounded here."""
        problem = await self._socket_problem(scope)
        if problem is not None:
            await self._refuse(scope, receive, send, *problem)
            return
        await self.app(scope, receive, send)

    async def _socket_problem(self, scope: Scope) -> tuple[int, str] | None:
        connection = HTTPConnection(scope)
        refused = request_problem(connection)
        if refused is not None:
            return refused.status, refused.message
        return await self._check(connection)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        connection = HTTPConnection(scope)
        refused = request_problem(connection)
        if refused is not None:
            response = error_response(refused.status, refused.message, refused.field)
            await response(scope, receive, send)
            return
        problem = await self._check(connection)
        if problem is not None:
            await self._refuse(scope, receive, send, *problem)
            return
        identity = identity_of(scope)
        user = identity.user_id if identity is not None else connection.query_params.get("userId")
        if path in STREAM_PATHS and user:
            if not self._streams.enter(user):
                await self._refuse(
                    scope,
                    receive,
                    send,
                    429,
                    "too many open streams for this user; close one first",
                )
                return
            try:
                await self._call(scope, receive, send)
            finally:
                self._streams.leave(user)
            return
        await self._call(scope, receive, send)

    @staticmethod
    async def _refuse(
        scope: Scope, receive: Receive, send: Send, status: int, message: str
    ) -> None:
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        response = JSONResponse({"error": message}, status_code=status, headers=headers)
        if scope["type"] == "websocket":
            await WebSocket(scope, receive, send).send_denial_response(response)
        else:
            await response(scope, receive, send)

    async def _check(self, connection: HTTPConnection) -> tuple[int, str] | None:
        """Why the request is refused (status, message), or None; stores the identity."""
        if not self._origins.allows(connection.headers.get("origin")):
            return 403, "this origin is not allowed"
        declared = connection.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self._max_body:
            return 413, f"the body must be at most {self._max_body} bytes"
        if self._auth is None:
            return None
        try:
            identity = await self._auth.identify(connection)
            validate_user_id(identity.user_id)
        except AuthError as err:
            return 401, str(err)
        except InvalidIdError:
            return 401, "the token's subject is not a usable user id"
        connection.scope[IDENTITY_SCOPE_KEY] = identity
        return None

    async def _call(self, scope: Scope, receive: Receive, send: Send) -> None:
        """An HTTP request, its body bounded."""
        received = 0
        started = False

        async def bounded_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self._max_body:
                    raise _BodyTooLargeError
            return message

        async def watch_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, bounded_receive, watch_send)
        except _BodyTooLargeError:
            if started:
                raise
            await self._refuse(
                scope, receive, send, 413, f"the body must be at most {self._max_body} bytes"
            )
