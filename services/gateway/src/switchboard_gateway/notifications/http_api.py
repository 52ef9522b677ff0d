"""The notification endpoints (docs/protocol.md §3): SSE, long-poll, send, broadcast, inbox."""

import logging
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from switchboard_contracts import BusError, ErrorCode, InvalidIdError
from switchboard_contracts.ids import ID_PATTERN, validate_user_id
from switchboard_contracts.input_rules import INT64_MAX
from switchboard_contracts.notify import MAX_INBOX_LIMIT, InboxRequest, ReadRequest

from switchboard_gateway.edge.auth import SCOPE_BROADCAST, SCOPE_SEND
from switchboard_gateway.edge.drain import Drain, StreamDrainable
from switchboard_gateway.edge.http_input import (
    bus_error_response,
    error_response,
    problem_response,
    read_json,
)
from switchboard_gateway.edge.identity import (
    IdentityError,
    missing_scope,
    resolve_user,
    token_teams,
)
from switchboard_gateway.metrics import NOTIFICATION_DELIVERIES, REPLAYS, TurnCounter
from switchboard_gateway.notifications import params
from switchboard_gateway.notifications.client import (
    NotificationsClient,
    NotificationsUnavailableError,
)
from switchboard_gateway.notifications.events import (
    NOTIFICATION_KIND,
    Entry,
    Ready,
    Reset,
    notification_object,
)
from switchboard_gateway.notifications.inbox_follower import InboxFollower
from switchboard_gateway.notifications.inbox_log import InboxUnavailableError, StoredInbox
from switchboard_gateway.notifications.keepalive import KeepaliveSweep
from switchboard_gateway.notifications.user_hub import KnownUsers, UserHub
from switchboard_gateway.settings import GatewaySettings
from switchboard_gateway.transport.event_stream import EventStreamResponse, Write
from switchboard_gateway.transport.sse import KEEPALIVE, KEEPALIVE_KIND, sse_event

__all__ = ["MAX_POLL_TIMEOUT_SECONDS", "NotificationsApi"]

log = logging.getLogger(__name__)

MAX_POLL_TIMEOUT_SECONDS = 30.0
DEFAULT_POLL_TIMEOUT_SECONDS = 25.0
_SSE_COUNTED = {NOTIFICATION_KIND: TurnCounter(NOTIFICATION_DELIVERIES.labels("sse"))}
"""A notification written to an SSE stream is a delivery."""


class _UserError(Exception):
    def __init__(self, response: JSONResponse) -> None:
        self.response = response


class NotificationsApi:
    def __init__(
        self,
        settings: GatewaySettings,
        users: UserHub,
        known: KnownUsers,
        notify: NotificationsClient,
        inbox: StoredInbox,
        *,
        drain: Drain,
        keepalives: KeepaliveSweep,
    ) -> None:
        self._drain = drain
        self._keepalives = keepalives
        self._settings = settings
        self._users = users
        self._known = known
        self._notify = notify
        self._inbox = inbox

    def routes(self) -> list[Route]:
        return [
            Route("/api/notifications/stream", self.stream, methods=["GET"]),
            Route("/api/notifications/poll", self.poll, methods=["GET"]),
            Route("/api/notifications/send", self.send, methods=["POST"]),
            Route("/api/notifications/broadcast", self.broadcast, methods=["POST"]),
            Route("/api/notifications/read-all", self.read_all, methods=["POST"]),
            Route("/api/notifications/{notification_id}/read", self.read, methods=["POST"]),
            Route("/api/notifications", self.list_inbox, methods=["GET"]),
        ]

    def _user(self, request: Request) -> str:
        """The caller: with auth, from the token; without, the required ``userId`` parameter."""
        if self._settings.auth_enabled:
            try:
                return resolve_user(request, auth_enabled=True)
            except IdentityError as err:
                raise _UserError(error_response(401, str(err))) from None
        raw = request.query_params.get("userId")
        if not raw:
            raise _UserError(error_response(400, "userId is required"))
        try:
            return validate_user_id(raw)
        except InvalidIdError as err:
            raise _UserError(error_response(400, str(err), "userId")) from None

    async def _seen(self, user: str, teams: list[str] | None) -> None:
        """Make the user known for broadcasts; a failure must not keep them from their stream."""
        try:
            await self._known.seen(user, teams)
        except NotificationsUnavailableError as err:
            log.warning("could not register a connected user (%s); broadcasts may miss them", err)

    # -- Server-Sent Events -------------------------------------------------------------------

    async def stream(self, request: Request) -> Response:
        try:
            user = self._user(request)
        except _UserError as problem:
            return problem.response
        teams = params.parse_teams(request.query_params.getlist("team"))
        if isinstance(teams, params.Problem):
            return problem_response(teams)
        proven = token_teams(request)
        if proven is not None:  # with auth, the token says which teams; the parameter is ignored
            token_param = params.parse_teams(sorted(proven))
            if isinstance(token_param, params.Problem):
                return error_response(
                    401, f"the token's teams claim is unusable: {token_param.message}"
                )
            teams = token_param
        raw = request.headers.get("last-event-id")
        if raw is None:
            raw = request.query_params.get("lastEventId")
        after = params.parse_cursor(raw)
        named = teams or "team" in request.query_params or proven is not None
        await self._seen(user, teams if named else None)
        follower = InboxFollower(self._inbox, user, self._settings.notify_max_pending)
        await self._users.attach(user, follower)
        try:
            if isinstance(after, params.Problem):
                await follower.begin(None)
                opening: Ready | Reset = Reset(follower.last, f"{after.message}; resuming")
            else:
                reset = await follower.begin(after)
                opening = reset or Ready(follower.last)
            if raw is not None:  # a resume: was the gap filled, or is the client told to reload?
                outcome = "recovered" if isinstance(opening, Ready) else "not_recovered"
                REPLAYS.labels("notifications", outcome).inc()
        except InboxUnavailableError as err:
            await self._users.detach(user, follower)
            return error_response(503, str(err))
        except BaseException:
            await self._users.detach(user, follower)
            raise

        drainable = StreamDrainable(follower.interrupt)

        async def produce(write: Write) -> None:
            self._drain.track(drainable)
            await write(sse_event(retry_ms=self._settings.sse_retry_ms))
            await write(opening.sse)
            self._keepalives.add(follower)
            await _follow(write, follower, drainable)

        async def close() -> None:
            self._drain.untrack(drainable)
            self._keepalives.discard(follower)
            await self._users.detach(user, follower)

        return EventStreamResponse(
            produce,
            close,
            self._settings.sse_write_timeout_seconds,
            direct=self._settings.sse_direct_writes,
            counted=_SSE_COUNTED,
        )

    # -- long-polling -------------------------------------------------------------------------

    async def poll(self, request: Request) -> Response:
        try:
            user = self._user(request)
        except _UserError as problem:
            return problem.response
        cursor = params.parse_cursor(request.query_params.get("cursor"))
        if isinstance(cursor, params.Problem):
            return problem_response(cursor)
        timeout = params.parse_timeout(
            request.query_params, DEFAULT_POLL_TIMEOUT_SECONDS, MAX_POLL_TIMEOUT_SECONDS
        )
        if isinstance(timeout, params.Problem):
            return problem_response(timeout)
        await self._seen(user, None)
        try:
            return await self._poll(user, cursor, timeout)
        except InboxUnavailableError as err:
            return error_response(503, str(err))

    async def _poll(self, user: str, cursor: int | None, timeout: float) -> JSONResponse:
        follower = InboxFollower(self._inbox, user, self._settings.notify_max_pending)
        await self._users.attach(user, follower)
        try:
            reset = await follower.begin(cursor)
            if reset is not None:
                return self._poll_answer([], follower.last, reset=True)
            deadline = time.monotonic() + timeout
            while (remaining := deadline - time.monotonic()) > 0:
                events = await follower.next(remaining)
                entries = [e for e in events if isinstance(e, Entry)]
                reset_now = any(isinstance(e, Reset) for e in events)
                if entries or reset_now:
                    return self._poll_answer(entries, follower.last, reset=reset_now)
            return self._poll_answer([], follower.last)
        finally:
            await self._users.detach(user, follower)

    @staticmethod
    def _poll_answer(entries: list[Entry], cursor: int, reset: bool = False) -> JSONResponse:
        return JSONResponse(
            {"notifications": [e.shown for e in entries], "cursor": cursor, "reset": reset}
        )

    # -- commands -----------------------------------------------------------------------------

    async def send(self, request: Request) -> Response:
        missing = missing_scope(request, self._settings.auth_enabled, SCOPE_SEND)
        if missing is not None:
            return error_response(403, missing)
        body = await _read_body(request)
        if isinstance(body, params.Problem):
            return problem_response(body)
        parsed = params.parse_send(body)
        if isinstance(parsed, params.Problem):
            return problem_response(parsed)
        reply = await self._notify.send(parsed)
        if reply.error is not None or reply.notification is None:
            return bus_error_response(reply.error or _internal("send"))
        notification = reply.notification
        return JSONResponse(
            {"success": True, "notificationId": notification.id, "cursor": notification.cursor}
        )

    async def broadcast(self, request: Request) -> Response:
        missing = missing_scope(request, self._settings.auth_enabled, SCOPE_BROADCAST)
        if missing is not None:
            return error_response(403, missing)
        body = await _read_body(request)
        if isinstance(body, params.Problem):
            return problem_response(body)
        parsed = params.parse_broadcast(body)
        if isinstance(parsed, params.Problem):
            return problem_response(parsed)
        reply = await self._notify.broadcast(parsed)
        if reply.error is not None or reply.broadcast_id is None:
            return bus_error_response(reply.error or _internal("broadcast"))
        return JSONResponse({"success": True, "broadcastId": reply.broadcast_id})

    async def list_inbox(self, request: Request) -> Response:
        try:
            user = self._user(request)
        except _UserError as problem:
            return problem.response
        query = request.query_params
        unread_only = params.parse_bool(query, "unreadOnly")
        before = params.parse_int(query, "before", None, 1, INT64_MAX)
        limit = params.parse_int(query, "limit", 20, 1, MAX_INBOX_LIMIT)
        for value in (unread_only, before, limit):
            if isinstance(value, params.Problem):
                return problem_response(value)
        assert isinstance(unread_only, bool)
        assert isinstance(limit, int)
        assert before is None or isinstance(before, int)
        reply = await self._notify.inbox(
            InboxRequest(user_id=user, unread_only=unread_only, before=before, limit=limit)
        )
        if reply.error is not None:
            return bus_error_response(reply.error)
        return JSONResponse(
            {
                "notifications": [notification_object(i.notification, i.read) for i in reply.items],
                "unreadCount": reply.unread_count,
                "hasMore": reply.has_more,
            }
        )

    async def read(self, request: Request) -> Response:
        notification_id = request.path_params["notification_id"]
        if not ID_PATTERN.fullmatch(notification_id):
            return error_response(400, f"no notification has the id {notification_id[:80]!r}", "id")
        return await self._read(request, notification_id)

    async def read_all(self, request: Request) -> Response:
        return await self._read(request, None)

    async def _read(self, request: Request, notification_id: str | None) -> Response:
        try:
            user = self._user(request)
        except _UserError as problem:
            return problem.response
        reply = await self._notify.read(ReadRequest(user_id=user, notification_id=notification_id))
        if reply.error is not None:
            return bus_error_response(reply.error)
        return JSONResponse({"success": True, "unreadCount": reply.unread_count})


async def _follow(write: Write, follower: InboxFollower, drainable: StreamDrainable) -> None:
    """Live events until the gateway drains the stream; then the browser's reconnect delay.

    A live event that comes next in order while the follower waits is written as it arrives
    (``write.now``), without waking this task; the rest is written here. So is a keepalive the
    sink could not take (``KeepaliveSweep`` pings the follower: ``next`` returns nothing).
    The stream counts the notifications it writes as deliveries (``_SSE_COUNTED``)."""
    follower.write_through(write.now)
    try:
        while not drainable.ended.is_set():
            events = await follower.next(None)  # interrupted when the stream is drained
            if drainable.ended.is_set():
                break
            if not events:
                await write(KEEPALIVE, KEEPALIVE_KIND)
            for event in events:
                await write(event.sse_bytes, event.kind)
    finally:
        follower.write_through(None)
    # Draining: the browser reconnects (elsewhere) after this delay, with Last-Event-ID.
    await write(sse_event(retry_ms=max(1, drainable.reconnect_ms)))


def _internal(what: str) -> BusError:
    return BusError(code=ErrorCode.INTERNAL, message=f"{what} gave no answer; retry")


async def _read_body(request: Request) -> dict[str, Any] | params.Problem:
    """The JSON object of the body, read no further than the limit, under the input rule."""
    return params.body_object(await read_json(request, params.MAX_BODY_BYTES, params.NOT_AN_OBJECT))
