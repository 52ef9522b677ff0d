"""``GET /api/dashboard/stream?team=…``: a team's dashboard as Server-Sent Events.

Events ``metrics-update`` (every second), ``alert`` and ``log-entry`` (optionally only those at
``level`` or above and/or from ``source``). The current metrics and active alerts come first.
Dashboard events are ephemeral: they carry no ``id`` and nothing is replayed on reconnect.
When the gateway stops, the stream ends at once; the browser reconnects after ``retry``.
A client that stops reading is cut off like a notification stream (``EventStreamResponse``).
"""

import asyncio

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from switchboard_contracts.ids import ID_PATTERN

from switchboard_gateway.dashboards.hub import SSE, DashboardHub, DashboardSubscriber
from switchboard_gateway.dashboards.log_filter import LogFilterError, parse_log_filter
from switchboard_gateway.edge.identity import IdentityError, identity_of, resolve_user, team_refusal
from switchboard_gateway.transport.event_stream import EventStreamResponse, Write
from switchboard_gateway.transport.sse import KEEPALIVE

__all__ = ["dashboard_stream_routes"]

RETRY_MS = 3000
END = ""  # queued when the gateway stops: the stream ends, the client reconnects elsewhere


def dashboard_stream_routes(
    hub: DashboardHub, keepalive_seconds: float, auth_enabled: bool, write_timeout: float
) -> list[Route]:
    async def stream(request: Request) -> Response:
        try:
            resolve_user(request, auth_enabled)
        except IdentityError as err:
            return JSONResponse({"error": str(err)}, status_code=400)
        team = request.query_params.get("team")
        if not team:
            return JSONResponse({"error": "team is required"}, status_code=400)
        if not ID_PATTERN.fullmatch(team):
            return JSONResponse(
                {"error": "team must be 1-64 characters of letters, digits, '-' or '_'"},
                status_code=400,
            )
        refused = team_refusal(identity_of(request), auth_enabled, team)
        if refused is not None:
            return JSONResponse({"error": refused}, status_code=403)
        try:
            logs = parse_log_filter(
                request.query_params.get("level"), request.query_params.get("source")
            )
        except LogFilterError as err:
            return JSONResponse({"error": str(err)}, status_code=400)
        queue: asyncio.Queue[str] = asyncio.Queue()
        subscriber = DashboardSubscriber(
            team, queue.put_nowait, queue.qsize, SSE, logs, close=lambda: queue.put_nowait(END)
        )

        async def produce(write: Write) -> None:
            hub.join(subscriber)
            await write(f"retry: {RETRY_MS}\n\n")
            while True:
                try:
                    async with asyncio.timeout(keepalive_seconds):
                        text = await queue.get()
                except TimeoutError:
                    text = KEEPALIVE.decode()
                if text == END:
                    return
                await write(text)

        async def close() -> None:
            hub.leave(subscriber)

        return EventStreamResponse(produce, close, write_timeout)

    return [Route("/api/dashboard/stream", stream, methods=["GET"])]
