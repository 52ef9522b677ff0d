"""Read marks over HTTP (docs/protocol.md §4): ``POST /api/rooms/{room}/read`` is the ``read``
frame of §2 for callers without a WebSocket: the same mark, stored and published the same way
(``read_marks``), answered with the ``read`` frame's payload. Each user's marks over HTTP are
limited per gateway (``USER_FRAMES_PER_SECOND``, bursts ``USER_FRAME_BURST``): 429 beyond it.
"""

import time

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from switchboard_contracts.input_rules import INT64_MAX

from switchboard_gateway.chat.read_marks import ReadMarks
from switchboard_gateway.edge.http_input import (
    NOT_JSON,
    Problem,
    ReadableRoom,
    bus_error_response,
    error_response,
    problem_response,
    read_json,
)
from switchboard_gateway.edge.limits import UserBuckets
from switchboard_gateway.metrics import READ_MARKS
from switchboard_gateway.settings import GatewaySettings

__all__ = ["read_routes"]


"""The path's room if the requesting user may read it, else the refusal (``http_api``)."""


def _seq(body: object) -> int | JSONResponse:
    if not isinstance(body, dict):
        return error_response(422, "the body must be a JSON object")
    seq = body.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq <= INT64_MAX:
        return error_response(422, f"seq is required: an integer from 0 to {INT64_MAX}", "seq")
    return seq


def read_routes(
    settings: GatewaySettings, reads: ReadMarks, readable_room: ReadableRoom
) -> list[Route]:
    marks = UserBuckets(settings.user_frames_per_second, settings.user_frame_burst)

    async def mark_read(request: Request) -> Response:
        body = await read_json(request, settings.http_max_body_bytes, NOT_JSON)
        seq = problem_response(body) if isinstance(body, Problem) else _seq(body)
        if isinstance(seq, JSONResponse):
            return seq
        access = await readable_room(request)
        if isinstance(access, JSONResponse):
            READ_MARKS.labels("http", "refused").inc()
            return access
        room, user_id = access
        if not marks.allow(user_id, time.monotonic()):
            return error_response(429, "too many read marks; slow down")
        reply = await reads.mark(room, user_id, seq)
        if reply.state is None:
            READ_MARKS.labels("http", "unavailable").inc()
            if reply.error is not None:
                return bus_error_response(reply.error)
            return error_response(503, "the read mark was not stored; retry")
        READ_MARKS.labels("http", "stored").inc()
        state = reply.state
        return JSONResponse(
            {
                "room": state.room,
                "userId": state.user_id,
                "seq": state.seq,
                "unreadCount": state.unread_count,
                "upto": state.upto,
            }
        )

    return [Route("/api/rooms/{room_id}/read", mark_read, methods=["POST"])]
