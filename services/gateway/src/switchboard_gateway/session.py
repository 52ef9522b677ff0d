"""One WebSocket connection, whichever endpoint accepted it: its rooms and its frames.

``/chat/{roomId}`` sessions are in one fixed room from the start; ``/ws`` sessions join and
leave rooms with frames. Everything else is the same: what each frame does, the rate limit,
presence and typing of the connection, and leaving every room when the connection ends.
"""

import asyncio
import logging
import secrets
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from starlette.types import Message
from starlette.websockets import WebSocket
from switchboard_contracts import ChatSendRequest
from switchboard_protocol import CloseCode

from switchboard_gateway import frames
from switchboard_gateway.auth import Authenticator
from switchboard_gateway.chat_client import ChatClient
from switchboard_gateway.dashboard_hub import DashboardHub, DashboardSubscriber, dashboard_team
from switchboard_gateway.direct_outbox import FrameWriter
from switchboard_gateway.drain import Drain
from switchboard_gateway.expiry import ExpirySchedule
from switchboard_gateway.identity import identity_of, team_refusal
from switchboard_gateway.limits import UserFrameRates
from switchboard_gateway.metrics import RATE_LIMITED
from switchboard_gateway.outbox import Outgoing
from switchboard_gateway.presence import LocalPresence, MetaTooLargeError
from switchboard_gateway.ratelimit import FrameRateLimit
from switchboard_gateway.room_log import RoomLog
from switchboard_gateway.rooms import Member, RoomHub, RoomUnavailableError
from switchboard_gateway.settings import GatewaySettings
from switchboard_gateway.tokens import AuthError
from switchboard_gateway.typing import TypingSource
from switchboard_gateway.users import UserHub

__all__ = [
    "Session",
    "SessionDeps",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SessionDeps:
    """What every session shares: one of each per gateway process."""

    settings: GatewaySettings
    hub: RoomHub
    chat: ChatClient
    room_log: RoomLog
    presence: LocalPresence
    typing: TypingSource
    users: UserHub
    dashboards: DashboardHub
    drain: Drain
    background: set["asyncio.Task[Any]"]
    authenticator: Authenticator | None
    user_rates: UserFrameRates
    writer: FrameWriter = field(default_factory=FrameWriter)
    """Flushes the direct outboxes (``direct_outbox``) once per loop turn."""
    expiries: ExpirySchedule = field(default_factory=ExpirySchedule)
    """Closes sessions whose token expired, with one timer for all of them."""

    def spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        """Run work that must finish even after its connection closed."""
        task = asyncio.create_task(coroutine)
        self.background.add(task)
        task.add_done_callback(self.background.discard)


class Session:
    def __init__(
        self,
        deps: SessionDeps,
        websocket: WebSocket,
        user_id: str,
        outbox: Outgoing,
        *,
        fixed_room: str | None = None,
    ) -> None:
        self._deps = deps
        self._websocket = websocket
        self.user_id = user_id
        self.outbox = outbox
        self.fixed_room = fixed_room
        self.connection = f"{user_id}-{secrets.token_hex(4)}"
        self.rooms: dict[str, Member] = {}
        self.dashboards: dict[str, DashboardSubscriber] = {}
        settings = deps.settings
        self._limit = FrameRateLimit(
            settings.client_frames_per_second,
            settings.client_frame_burst,
            settings.client_rate_strikes,
        )
        self._reader: asyncio.Task[Any] | None = None
        self._receiving = False
        self._woken = False
        identity = identity_of(websocket.scope)
        self.expires_at = identity.expires_at if identity is not None else None
        self._expiry: asyncio.Handle | None = None
        self._expiry_bucket: int | None = None

    async def run(self, since: int | None = None) -> None:
        """Greet, join the fixed room (replaying after ``since``), serve frames until closed."""
        self._user_limit = self._deps.user_rates.acquire(self.user_id)
        self._expiry = asyncio.get_running_loop().call_soon(self.expired)
        self.outbox.offer(frames.connected_frame(self.connection))
        await self._deps.users.join(self.user_id, self.outbox.offer)  # notifications, live
        try:
            if self.fixed_room is not None and not await self.join(self.fixed_room, since):
                self.outbox.close(CloseCode.INTERNAL_ERROR, "the room is unavailable; retry")
                return
            await self._receive()
        finally:
            if self._expiry is not None:
                self._expiry.cancel()
            if self._expiry_bucket is not None:
                self._deps.expiries.discard(self, self._expiry_bucket)
            self._deps.user_rates.release(self.user_id)
            await self._deps.users.leave(self.user_id, self.outbox.offer)
            for subscriber in self.dashboards.values():
                self._deps.dashboards.leave(subscriber)
            for room in list(self.rooms):
                await self.leave(room)

    async def join(self, room: str, since: int | None) -> bool:
        """Become a member of ``room`` through the hub (which replays after ``since``)."""
        member = Member(self.connection, self.user_id, self.outbox)
        self.rooms[room] = member  # left again when the connection ends, even mid-join
        try:
            await self._deps.hub.join(room, member, since)
        except RoomUnavailableError as err:
            del self.rooms[room]
            self._error("unavailable", str(err), room)
            return False
        return True

    async def leave(self, room: str) -> None:
        deps = self._deps
        member = self.rooms.pop(room, None)
        if member is None:
            return
        await deps.hub.leave(room, member)
        stopped = deps.typing.stop(room, self.user_id, self.connection, _now())
        if stopped is not None:
            deps.spawn(deps.hub.publish_typing(room, self.user_id, stopped))

    async def _receive(self) -> None:
        """Serve the client's frames until it disconnects or the outbox closes (1013, 4429,
        1012, 1008). Only the connection's own (ASGI) task: a close of ours wakes a pending
        ``receive`` by cancelling it, rather than a task per ``receive`` raced against a task
        waiting for the close (three tasks per idle connection cost ~4 KB of memory each)."""
        loop = asyncio.get_running_loop()
        self._reader = asyncio.current_task()
        self.outbox.on_close = self._stop_receiving
        try:
            while not self.outbox.closed.is_set():
                message = await self._next_message()
                if message is None or message["type"] == "websocket.disconnect":
                    return
                await self._on_message(message, loop.time())
        finally:
            self.outbox.on_close = None
            self._reader = None

    async def _next_message(self) -> Message | None:
        """The next message from the client, or None once the outbox closed (1013, 4429)."""
        self._receiving = True
        try:
            return await self._websocket.receive()
        except asyncio.CancelledError:
            reader = self._reader
            # Ours (``_stop_receiving``) is swallowed; any other cancellation goes on.
            if not self._woken or reader is None or reader.uncancel() > 0:
                raise
            return None
        finally:
            self._receiving = False

    def _stop_receiving(self) -> None:
        """The outbox closed: wake the reader if it is waiting for the client."""
        if self._receiving and not self._woken and self._reader is not None:
            self._woken = True
            self._reader.cancel()

    def expired(self) -> None:
        """Close with 1008 when the token expires, unless an ``auth`` frame extended it (checked
        once at the start, then by the gateway's one ``ExpirySchedule``, so that an idle
        connection keeps no timer of its own)."""
        self._expiry = None
        self._expiry_bucket = None
        if self.expires_at is None or self.outbox.closed.is_set():
            return
        if self.expires_at - time.time() <= 0:
            self.outbox.close(CloseCode.POLICY_VIOLATION, "the token expired")
            return
        self._expiry_bucket = self._deps.expiries.add(self, self.expires_at)

    async def _on_message(self, message: Message, now: float) -> None:
        if not (self._limit.allow(now) and self._user_limit.allow(now)):
            RATE_LIMITED.labels("websocket").inc()
            if self._limit.exhausted or self._user_limit.exhausted:
                self.outbox.close(CloseCode.RATE_LIMITED, "rate limit exceeded repeatedly")
            else:
                self._error("rate_limited", "too many frames; slow down", None)
            return
        text = message.get("text")
        data = text if text is not None else message.get("bytes")
        await self._handle(frames.parse_client_frame(data or b""))

    async def _handle(self, frame: frames.ClientFrame | frames.FrameError) -> None:
        match frame:
            case frames.FrameError():
                self._error(frame.code, frame.message, frame.ref)
                if frame.unparsable and self.fixed_room is not None:
                    self.outbox.offer(frames.invalid_format_frame())
            case frames.PingFrame():
                self.outbox.offer(frames.pong_frame(frame.fields))
            case frames.ChatFrame():
                self._chat_frame(frame)
            case frames.TypingFrame():
                await self._typing_frame(frame)
            case frames.PresenceFrame():
                self._presence_frame(frame)
            case frames.JoinFrame():
                await self._join_frame(frame)
            case frames.LeaveFrame():
                await self._leave_frame(frame)
            case frames.HistoryFrame():
                await self._history(frame)
            case frames.AuthFrame():
                await self._auth_frame(frame)

    async def _auth_frame(self, frame: frames.AuthFrame) -> None:
        authenticator = self._deps.authenticator
        if authenticator is None:
            self._error("unsupported", "authentication is disabled on this gateway", "auth")
            return
        try:
            identity = await authenticator.verify(frame.token)
        except AuthError as err:
            self._error("unauthorized", str(err), "auth")
            return
        if identity.user_id != self.user_id:
            self._error("forbidden", "the token is for another user", "auth")
            return
        self.expires_at = identity.expires_at
        self.outbox.offer(frames.auth_frame(identity.expires_at))

    def _error(self, code: str, message: str, ref: str | None) -> None:
        self.outbox.offer(frames.error_frame(code, message, ref))

    def _room_of(self, room: str | None, ref: str | None) -> str | None:
        """The room a chat, typing or presence frame is for; it must be joined."""
        if self.fixed_room is not None:
            return self.fixed_room
        if room is None:
            self._error("invalid_frame", "payload.room is required on /ws", ref)
            return None
        if room not in self.rooms:
            self._error("not_joined", f"join room {room} first", ref)
            return None
        return room

    def _chat_frame(self, frame: frames.ChatFrame) -> None:
        room = self._room_of(frame.room, frame.client_msg_id)
        if room is None:
            return
        request = ChatSendRequest(
            room=room,
            user_id=self.user_id,
            content=frame.content,
            sender_name=frame.sender_name,
            client_msg_id=frame.client_msg_id,
        )
        self._deps.spawn(self._send(request))

    async def _send(self, request: ChatSendRequest) -> None:
        reply = await self._deps.chat.send(request)
        if reply.message is not None:
            self.outbox.offer(frames.ack_frame(reply.message))
        elif reply.error is not None:
            self._error(reply.error.code, reply.error.message, request.client_msg_id)

    async def _typing_frame(self, frame: frames.TypingFrame) -> None:
        room = self._room_of(frame.room, "typing")
        if room is None:
            return
        decision = self._deps.typing.update(
            room, self.user_id, self.connection, frame.is_typing, _now()
        )
        if decision is not None:
            await self._deps.hub.publish_typing(room, self.user_id, decision)

    def _presence_frame(self, frame: frames.PresenceFrame) -> None:
        room = self._room_of(frame.room, "presence")
        if room is None:
            return
        deps = self._deps
        try:
            deps.presence.update_meta(
                room, self.user_id, self.connection, frame.meta, frames.now_ms()
            )
        except MetaTooLargeError as err:
            self._error("invalid_frame", str(err), "presence")
            return
        deps.hub.presence_changed(room, self.user_id)

    async def _join_frame(self, frame: frames.JoinFrame) -> None:
        if self.fixed_room is not None:
            self._error(
                "unsupported",
                f"join is for /ws; this connection is in {self.fixed_room}",
                frame.room,
            )
            return
        if frame.room in self.rooms or frame.room in self.dashboards:
            self._error("already_joined", f"already in room {frame.room}", frame.room)
            return
        team = dashboard_team(frame.room)
        if team is not None:
            identity = identity_of(self._websocket.scope)
            refused = team_refusal(identity, self._deps.settings.auth_enabled, team)
            if refused is not None:
                self._error("forbidden", refused, frame.room)
                return
            subscriber = DashboardSubscriber(team, self.outbox.offer, lambda: self.outbox.pending)
            self.dashboards[frame.room] = subscriber
            self._deps.dashboards.join(subscriber)
            return
        if await self._may_enter(frame.room):
            await self.join(frame.room, frame.since)

    async def _leave_frame(self, frame: frames.LeaveFrame) -> None:
        if self.fixed_room is not None:
            self._error("unsupported", "leave is for /ws; close the connection", frame.room)
        elif frame.room in self.dashboards:
            self._deps.dashboards.leave(self.dashboards.pop(frame.room))
        elif frame.room not in self.rooms:
            self._error("not_joined", f"not in room {frame.room}", frame.room)
        else:
            await self.leave(frame.room)

    async def _may_enter(self, room: str) -> bool:
        reply = await self._deps.chat.access(room, self.user_id)
        if reply.error is not None:
            self._error(reply.error.code, reply.error.message, room)
            return False
        if not reply.allowed:
            self._error("forbidden", reply.reason or f"room {room} is private", room)
            return False
        return True

    async def _history(self, frame: frames.HistoryFrame) -> None:
        room = frame.room or self.fixed_room
        if room is None:
            self._error("invalid_frame", "payload.room is required on /ws", "history")
            return
        if room not in self.rooms and not await self._may_enter(room):
            return
        try:
            messages, has_more = await self._deps.room_log.page(room, frame.before, frame.limit)
        except Exception:
            log.exception("reading history failed")
            self._error("unavailable", "history is unavailable; retry", room)
            return
        await self.outbox.send(frames.history_frame(room, messages, has_more))


def _now() -> float:
    return asyncio.get_running_loop().time()
