"""One WebSocket connection, whichever endpoint accepted it: its receive loop and its I/O.

``/chat/{roomId}`` sessions are in one fixed room from the start; ``/ws`` sessions join and
leave rooms with frames. What each frame does is decided without I/O by ``chat.dispatch``;
the session reads frames, carries the decisions out (the outbox, the bus, the ``RoomHub``,
which owns joining with replay and presence) and leaves every room when the connection ends.
"""

import asyncio
import logging
import secrets
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from starlette.types import Message, Scope
from starlette.websockets import WebSocket, WebSocketDisconnect
from switchboard_contracts import ChatSendRequest
from switchboard_contracts import ErrorCode as BusErrorCode
from switchboard_protocol import CloseCode

from switchboard_gateway.chat import frames
from switchboard_gateway.chat.client import ChatClient
from switchboard_gateway.chat.dispatch import (
    ROOM_UNAVAILABLE,
    ChatDispatch,
    Close,
    Decision,
    EnterRoom,
    ExtendToken,
    JoinDashboard,
    LeaveDashboard,
    LeaveRoom,
    MarkRead,
    PublishTyping,
    ReadHistory,
    ReadVersions,
    Refuse,
    RenewAuth,
    SyncPresence,
)
from switchboard_gateway.chat.read_marks import ReadMarks
from switchboard_gateway.chat.room_hub import Member, RoomHub, RoomUnavailableError
from switchboard_gateway.chat.room_log import RoomLog
from switchboard_gateway.dashboards.hub import DashboardHub, DashboardSubscriber
from switchboard_gateway.edge.auth import Authenticator
from switchboard_gateway.edge.drain import Drain, SocketDrainable
from switchboard_gateway.edge.expiry import ExpirySchedule
from switchboard_gateway.edge.identity import identity_of
from switchboard_gateway.edge.limits import Admission, UserFrameRates
from switchboard_gateway.edge.rate_limit import FrameRateLimit
from switchboard_gateway.edge.tokens import AuthError, Identity
from switchboard_gateway.metrics import READ_MARKS
from switchboard_gateway.notifications.user_hub import UserHub
from switchboard_gateway.settings import GatewaySettings
from switchboard_gateway.transport.direct_outbox import FrameWriter
from switchboard_gateway.transport.outbox import Outgoing

__all__ = [
    "Session",
    "SessionDeps",
    "forget_handshake",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SessionDeps:
    """What every session shares: one of each per gateway process."""

    settings: GatewaySettings
    hub: RoomHub
    chat: ChatClient
    room_log: RoomLog
    dispatch: ChatDispatch
    users: UserHub
    dashboards: DashboardHub
    drain: Drain
    background: set["asyncio.Task[Any]"]
    authenticator: Authenticator | None
    user_rates: UserFrameRates
    reads: ReadMarks
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
        self._limits: tuple[FrameRateLimit, FrameRateLimit] | None = None
        """The connection's and the user's, from the first frame the client sends: an idle
        connection holds none (memory per idle connection)."""
        self._reader: asyncio.Task[Any] | None = None
        self._receiving = False
        self._woken = False
        identity = self.identity
        self.expires_at = identity.expires_at if identity is not None else None
        self._expiry: asyncio.Handle | None = None
        self._expiry_bucket: int | None = None

    @property
    def identity(self) -> Identity | None:
        """The verified token's identity (auth enabled), else None."""
        return identity_of(self._websocket.scope)

    async def serve(self, admission: Admission, since: int | None = None) -> None:
        """Accept; over the connection limit close at once with 1013. Else greet, join the
        fixed room (replaying after ``since``), and serve the client's frames until it
        disconnects or the outbox closes (1013, 4429, 1012, 1008); on a failure close with 1011.

        The receive loop is inline in this one coroutine: each coroutine waiting in an idle
        connection's chain is kept while it idles (memory per idle connection); the steps
        before it are coroutines of their own, done by then. Only the
        connection's own (ASGI) task: a close of ours wakes a pending ``receive`` by cancelling
        it (``_stop_receiving``), rather than a task per ``receive`` raced against a task
        waiting for the close (three tasks per idle connection cost ~4 KB of memory each)."""
        drainable = await self._admit(admission)
        if drainable is None:
            return
        outbox = self.outbox
        try:
            loop = asyncio.get_running_loop()
            self._expiry = loop.call_soon(self.expired)
            outbox.offer(frames.connected_frame(self.connection))
            await self._deps.users.join(self.user_id, outbox.offer)  # notifications, live
            try:
                if self.fixed_room is not None and not await self.join(self.fixed_room, since):
                    self._answer(ROOM_UNAVAILABLE)
                    return
                # The ASGI ``receive`` itself, not Starlette's ``WebSocket.receive``, whose
                # coroutine would wait with ours (0.2 KB per idle connection) only to track
                # the client's state, which nothing here reads (pinned by test_session_receive)
                receive = self._websocket._receive
                self._reader = asyncio.current_task()
                outbox.on_close = self._stop_receiving
                while not outbox.closed.is_set():
                    self._receiving = True
                    try:
                        message = await receive()
                    except asyncio.CancelledError:
                        reader = self._reader
                        # Ours (``_stop_receiving``) is swallowed; any other cancellation goes on.
                        if not self._woken or reader is None or reader.uncancel() > 0:
                            raise
                        return  # the outbox closed (1013, 4429, ...)
                    finally:
                        self._receiving = False
                    if message["type"] == "websocket.disconnect":
                        return
                    await self._on_message(message, loop.time())
            finally:
                outbox.on_close = None
                self._reader = None
                await self._leave_all()
        except WebSocketDisconnect:
            pass
        except Exception:
            log.exception("a WebSocket session failed")
            outbox.close(CloseCode.INTERNAL_ERROR, "internal error; reconnect")
        finally:
            self._deps.drain.untrack(drainable)
            admission.leave(self.user_id)
            await outbox.stop()

    async def _admit(self, admission: Admission) -> SocketDrainable | None:
        """Accept, then admit (tracked by the drain) or close with 1013 (None)."""
        websocket = self._websocket
        await websocket.accept()
        refused = admission.enter(self.user_id)
        if refused is not None:
            await websocket.close(CloseCode.TRY_AGAIN_LATER, refused)
            return None
        forget_handshake(websocket.scope)
        self.outbox.start()
        drainable = SocketDrainable(self.outbox)
        self._deps.drain.track(drainable)  # a gateway already draining closes it at once (1012)
        return drainable

    async def _leave_all(self) -> None:
        """The session ends: its expiry, limits, notifications, dashboards and rooms."""
        deps = self._deps
        if self._expiry is not None:
            self._expiry.cancel()
        if self._expiry_bucket is not None:
            deps.expiries.discard(self, self._expiry_bucket)
        if self._limits is not None:
            deps.user_rates.release(self.user_id)
        await deps.users.leave(self.user_id, self.outbox.offer)
        for subscriber in self.dashboards.values():
            deps.dashboards.leave(subscriber)
        for room in list(self.rooms):
            await self.leave(room)

    async def join(self, room: str, since: int | None) -> bool:
        """Become a member of ``room`` through the hub (which replays after ``since``), then
        get the user's read mark and unread count there (in the background)."""
        member = Member(self.connection, self.user_id, self.outbox)
        self.rooms[room] = member  # left again when the connection ends, even mid-join
        try:
            upto = await self._deps.hub.join(room, member, since)
        except RoomUnavailableError as err:
            del self.rooms[room]
            self._answer(self._deps.dispatch.join_failed(room, err))
            return False
        self._deps.spawn(self._send_read_state(room, upto))
        return True

    async def _send_read_state(self, room: str, upto: int) -> None:
        """The user's own ``read`` frame on joining: its mark and what is unread up to ``upto``
        (the last ``seq`` the room had delivered when the member was registered)."""
        try:
            state = await self._deps.reads.state(room, self.user_id, upto)
        except Exception:
            state = None
        if state is None:
            log.warning("the read state of a joining member could not be read")
            return
        if room in self.rooms:
            unread = (state.unread_count, state.upto)
            self.outbox.offer(frames.read_frame(room, self.user_id, state.seq, unread))

    async def _mark_read(self, mark: MarkRead) -> None:
        reply = await self._deps.reads.mark(mark.room, self.user_id, mark.seq)
        outcome = "stored" if reply.state is not None else "unavailable"
        READ_MARKS.labels("websocket", outcome).inc()
        self._answer(self._deps.dispatch.read_reply(reply, mark.room))

    async def leave(self, room: str) -> None:
        deps = self._deps
        member = self.rooms.pop(room, None)
        if member is None:
            return
        await deps.hub.leave(room, member)
        stopped = deps.dispatch.left(self, room, _now())
        if stopped is not None:
            deps.spawn(deps.hub.publish_typing(room, self.user_id, stopped.is_typing))

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
        close = self._deps.dispatch.expiry(self.expires_at, time.time())
        if close is not None:
            self._answer(close)
            return
        self._expiry_bucket = self._deps.expiries.add(self, self.expires_at)

    async def _on_message(self, message: Message, now: float) -> None:
        dispatch = self._deps.dispatch
        limits = self._limits
        if limits is None:
            settings = self._deps.settings
            limits = self._limits = (
                FrameRateLimit(
                    settings.client_frames_per_second,
                    settings.client_frame_burst,
                    settings.client_rate_strikes,
                ),
                self._deps.user_rates.acquire(self.user_id),
            )
        refused = dispatch.admit(limits[0], limits[1], now)
        if refused is not None:
            self._answer(refused)
            return
        text = message.get("text")
        data = text if text is not None else message.get("bytes")
        decision = dispatch.frame(self, frames.parse_client_frame(data or b""), now)
        if decision is not None:
            await self._carry_out(decision)

    async def _carry_out(self, decision: Decision) -> None:  # noqa: PLR0912 (a case per decision)
        """Do what the dispatcher decided: the I/O."""
        deps = self._deps
        match decision:
            case ChatSendRequest():
                client_msg_id = decision.client_msg_id
                deps.chat.submit(
                    decision,
                    lambda reply: self._answer(deps.dispatch.chat_reply(reply, client_msg_id)),
                )
            case str() | Refuse() | Close():
                self._answer(decision)
            case PublishTyping():
                await deps.hub.publish_typing(decision.room, self.user_id, decision.is_typing)
            case SyncPresence():
                deps.hub.presence_changed(decision.room, self.user_id)
            case EnterRoom():
                if await self._may_enter(decision.room):
                    await self.join(decision.room, decision.since)
            case LeaveRoom():
                await self.leave(decision.room)
            case JoinDashboard():
                subscriber = DashboardSubscriber(
                    decision.team, self.outbox.offer, lambda: self.outbox.pending
                )
                self.dashboards[decision.room] = subscriber
                deps.dashboards.join(subscriber)
            case LeaveDashboard():
                deps.dashboards.leave(self.dashboards.pop(decision.room))
            case ReadHistory() | ReadVersions():
                await self._read(decision)
            case MarkRead():
                deps.spawn(self._mark_read(decision))
            case RenewAuth():
                await self._renew(decision.token)
            case ExtendToken():
                self.expires_at = decision.expires_at
                self.outbox.offer(decision.frame)

    def _answer(self, decision: str | Refuse | Close | None) -> None:
        """Send a frame, an ``error`` frame, or close."""
        match decision:
            case str():
                self.outbox.offer(decision)
            case Refuse():
                self.outbox.offer(frames.error_frame(decision.code, decision.message, decision.ref))
                if decision.notice:
                    self.outbox.offer(frames.invalid_format_frame())
            case Close():
                self.outbox.close(decision.code, decision.reason)

    async def _may_enter(self, room: str) -> bool:
        reply = await self._deps.chat.access(room, self.user_id)
        refused = self._deps.dispatch.access_reply(reply, room)
        self._answer(refused)
        return refused is None

    async def _read(self, read: ReadHistory | ReadVersions) -> None:
        """A history page or a message's versions, once the user may read the room."""
        if read.check_access and not await self._may_enter(read.room):
            return
        if isinstance(read, ReadVersions):
            await self._versions(read)
        else:
            await self._history(read)

    async def _history(self, read: ReadHistory) -> None:
        try:
            page = await self._deps.room_log.page(read.room, read.before, read.limit)
        except Exception:
            log.exception("reading history failed")
            page = None
        answer = self._deps.dispatch.history_page(read.room, page)
        if isinstance(answer, str):
            await self.outbox.send(answer)  # waits while the client reads: its own request
        else:
            self._answer(answer)

    async def _versions(self, read: ReadVersions) -> None:
        reply = await self._deps.chat.versions(read.room, read.message_id)
        unanswered = reply.error is not None and reply.error.code is BusErrorCode.UNAVAILABLE
        self._answer(
            self._deps.dispatch.versions_answer(
                read.room, read.message_id, None if unanswered else reply
            )
        )

    async def _renew(self, token: str) -> None:
        authenticator = self._deps.authenticator
        assert authenticator is not None  # the dispatcher renews only where there is one
        outcome: Identity | AuthError
        try:
            outcome = await authenticator.verify(token)
        except AuthError as err:
            outcome = err
        await self._carry_out(self._deps.dispatch.auth_result(self, outcome))


def forget_handshake(scope: Scope) -> None:
    """Drop what only the handshake needed from an accepted socket's scope: the request's
    headers and its query string (with auth, the token), the subprotocols it offered and the
    server's handshake extensions. The guard, the user's resolution and the server have read
    them by now, and nothing reads them again; kept, they are about 1.4 KB per idle connection.
    The path, the client's address and the verified identity stay."""
    scope["headers"] = ()
    scope["query_string"] = b""
    scope["subprotocols"] = ()
    scope.pop("extensions", None)


def _now() -> float:
    return asyncio.get_running_loop().time()
