"""What a chat connection's frames do. Pure: a frame and the session's state in, decisions out.

The shape of the ``websockets`` library's sans-I/O ``protocol.py``: ``ChatDispatch.frame`` is
given a parsed client frame (``frames``), the session that received it (``SessionState``: its
user, fixed room or ``/ws``, joined rooms and dashboards, identity) and the time, and returns
what to do, without doing it. The session carries the decision out (the I/O: sending, asking
the bus, joining through the ``RoomHub``) and hands what came back to the matching method here
(``chat_reply``, ``access_reply``, ``auth_result``, ``history_page``, ``versions_answer``) for
the next decision.

Decisions (``Decision``):

- a ``str``: a frame to send the client as it is (a pong, an ack, a history page);
- ``Refuse``: an ``error`` frame; the connection stays open;
- ``Close``: close the connection with a code;
- bus commands: ``ChatSendRequest`` (the chat send itself, an edit, a deletion, a reaction),
  ``ReadHistory``, ``ReadVersions``, ``MarkRead``, ``PublishTyping``,
  ``SyncPresence``, ``RenewAuth``;
- membership: ``EnterRoom`` (ask chat whether the user may, then join through the hub),
  ``LeaveRoom``, ``JoinDashboard``, ``LeaveDashboard``;
- ``ExtendToken``: an ``auth`` frame renewed the connection's token.

One ``ChatDispatch`` serves every session of a gateway (it holds the gateway's typing throttle
and local presence, both plain classes), so a connection costs no dispatcher of its own; the
hot path (a ``chat`` frame) allocates nothing beyond the ``ChatSendRequest`` it returns.
"""

from collections.abc import Container
from dataclasses import dataclass
from typing import Protocol

from switchboard_contracts import ChatMessage, ChatSendReply, ChatSendRequest, EventKind
from switchboard_contracts.chat import VersionsReply
from switchboard_contracts.reads import ReadMarkReply
from switchboard_contracts.rooms import RoomAccessReply
from switchboard_protocol import CloseCode, ErrorCode
from switchboard_protocol.times import now_ms

from switchboard_gateway.chat import frames
from switchboard_gateway.chat.presence import LocalPresence, MetaTooLargeError
from switchboard_gateway.chat.typing_indicators import TypingSource
from switchboard_gateway.dashboards.hub import dashboard_team
from switchboard_gateway.edge.auth import SCOPE_MODERATE
from switchboard_gateway.edge.identity import team_refusal
from switchboard_gateway.edge.rate_limit import FrameRateLimit
from switchboard_gateway.edge.tokens import AuthError, Identity
from switchboard_gateway.metrics import RATE_LIMITED

__all__ = [
    "ROOM_UNAVAILABLE",
    "ChatDispatch",
    "Close",
    "Decision",
    "EnterRoom",
    "ExtendToken",
    "JoinDashboard",
    "LeaveDashboard",
    "LeaveRoom",
    "MarkRead",
    "PublishTyping",
    "ReadHistory",
    "ReadVersions",
    "Refuse",
    "RenewAuth",
    "SessionState",
    "SyncPresence",
]


class SessionState(Protocol):
    """What the dispatcher reads of a session (``session.Session`` is one)."""

    @property
    def user_id(self) -> str: ...

    @property
    def connection(self) -> str: ...

    @property
    def fixed_room(self) -> str | None:
        """The room of a ``/chat/{roomId}`` connection; None on ``/ws``."""

    @property
    def rooms(self) -> Container[str]:
        """The chat rooms joined."""

    @property
    def dashboards(self) -> Container[str]:
        """The ``dashboard:<team>`` rooms joined."""

    @property
    def identity(self) -> Identity | None:
        """The verified token's identity (auth enabled), else None."""


@dataclass(frozen=True, slots=True)
class Refuse:
    """Send an ``error`` frame; the connection stays open."""

    code: str
    message: str
    ref: str | None
    notice: bool = False
    """Also the compatible form's ``Invalid message format`` notification."""


@dataclass(frozen=True, slots=True)
class Close:
    code: CloseCode
    reason: str


@dataclass(frozen=True, slots=True)
class PublishTyping:
    """Tell the room's gateways that the user started or stopped typing."""

    room: str
    is_typing: bool


@dataclass(frozen=True, slots=True)
class SyncPresence:
    """The connection's presence metadata in ``room`` changed: write the user's entry."""

    room: str


@dataclass(frozen=True, slots=True)
class EnterRoom:
    """Ask chat whether the user may enter (``access_reply``), then join, replaying after
    ``since`` when given."""

    room: str
    since: int | None


@dataclass(frozen=True, slots=True)
class LeaveRoom:
    room: str


@dataclass(frozen=True, slots=True)
class JoinDashboard:
    room: str
    team: str


@dataclass(frozen=True, slots=True)
class LeaveDashboard:
    room: str


@dataclass(frozen=True, slots=True)
class ReadHistory:
    """Read a page of the room's history (``history_page``); first ask chat whether the user
    may read it (``access_reply``) when ``check_access``."""

    room: str
    before: int | None
    limit: int
    check_access: bool


@dataclass(frozen=True, slots=True)
class ReadVersions:
    """Read every version of a message (``versions_answer``); first ask chat whether the user
    may read the room (``access_reply``) when ``check_access``."""

    room: str
    message_id: str
    check_access: bool


@dataclass(frozen=True, slots=True)
class MarkRead:
    """Store the user's read mark in ``room`` (joined: the user may read it), answer with
    ``read_reply``."""

    room: str
    seq: int


@dataclass(frozen=True, slots=True)
class RenewAuth:
    """Verify ``token`` and hand the outcome to ``auth_result``."""

    token: str


@dataclass(frozen=True, slots=True)
class ExtendToken:
    """The connection's token now expires at ``expires_at``; send ``frame``."""

    expires_at: float | None
    frame: str


Decision = (
    str
    | Refuse
    | Close
    | ChatSendRequest
    | PublishTyping
    | SyncPresence
    | EnterRoom
    | LeaveRoom
    | JoinDashboard
    | LeaveDashboard
    | ReadHistory
    | ReadVersions
    | MarkRead
    | RenewAuth
    | ExtendToken
)

ROOM_UNAVAILABLE = Close(CloseCode.INTERNAL_ERROR, "the room is unavailable; retry")
"""A ``/chat/{roomId}`` connection whose room could not be joined."""
_RATE_LIMITED = Refuse(ErrorCode.RATE_LIMITED, "too many frames; slow down", None)
_RATE_EXHAUSTED = Close(CloseCode.RATE_LIMITED, "rate limit exceeded repeatedly")
_TOKEN_EXPIRED = Close(CloseCode.POLICY_VIOLATION, "the token expired")
_NO_AUTH = Refuse(ErrorCode.UNSUPPORTED, "authentication is disabled on this gateway", "auth")
_OTHER_USER = Refuse(ErrorCode.FORBIDDEN, "the token is for another user", "auth")
_LEAVE_FIXED = "leave is for /ws; close the connection"
_ROOM_REQUIRED = "payload.room is required on /ws"


class ChatDispatch:
    """Decides for every session of a gateway; ``presence`` and ``typing`` are the gateway's
    (shared with the ``RoomHub``, which adds and removes members' presence)."""

    def __init__(
        self,
        presence: LocalPresence,
        typing: TypingSource,
        *,
        auth_enabled: bool,
        renewals: bool,
    ) -> None:
        self._presence = presence
        self._typing = typing
        self._auth_enabled = auth_enabled
        self._renewals = renewals

    def admit(self, own: FrameRateLimit, user: FrameRateLimit, now: float) -> Refuse | Close | None:
        """None when a frame arriving at ``now`` is within the connection's and the user's
        rate limits; else the frame is dropped with this."""
        if own.allow(now) and user.allow(now):
            return None
        RATE_LIMITED.labels("websocket").inc()
        if own.exhausted or user.exhausted:
            return _RATE_EXHAUSTED
        return _RATE_LIMITED

    def expiry(self, expires_at: float | None, now: float) -> Close | None:
        """At wall-clock ``now``: close when the token has expired (None: it never does)."""
        if expires_at is not None and expires_at - now <= 0:
            return _TOKEN_EXPIRED
        return None

    def frame(  # noqa: PLR0911, PLR0912 (one return per frame type)
        self, session: SessionState, frame: frames.ClientFrame | frames.FrameError, now: float
    ) -> Decision | None:
        """What ``frame`` does; ``now`` is the loop's clock (typing throttles by it)."""
        match frame:
            case frames.ChatFrame():
                return self._chat(session, frame)
            case frames.EditFrame() | frames.DeleteFrame():
                return self._change(session, frame)
            case frames.ReactFrame():
                return self._reaction(session, frame)
            case frames.FrameError():
                notice = frame.unparsable and session.fixed_room is not None
                return Refuse(frame.code, frame.message, frame.ref, notice)
            case frames.PingFrame():
                return frames.pong_frame(frame.fields)
            case frames.TypingFrame():
                return self._typing_frame(session, frame, now)
            case frames.PresenceFrame():
                return self._presence_frame(session, frame)
            case frames.JoinFrame():
                return self._join(session, frame)
            case frames.LeaveFrame():
                return self._leave(session, frame)
            case frames.HistoryFrame():
                return self._history(session, frame)
            case frames.VersionsFrame():
                return self._versions(session, frame)
            case frames.ReadFrame():
                return self._read(session, frame)
            case frames.AuthFrame():
                return RenewAuth(frame.token) if self._renewals else _NO_AUTH

    def left(self, session: SessionState, room: str, now: float) -> PublishTyping | None:
        """The session left ``room`` (a ``leave`` or the connection ended): its typing ends."""
        stopped = self._typing.stop(room, session.user_id, session.connection, now)
        return None if stopped is None else PublishTyping(room, stopped)

    def chat_reply(self, reply: ChatSendReply, client_msg_id: str | None) -> str | Refuse | None:
        """Chat's answer to a ``ChatSendRequest``: the ``ack``, or why not."""
        if reply.message is not None:
            return frames.ack_frame(reply.message)
        if reply.error is not None:
            return Refuse(reply.error.code, reply.error.message, client_msg_id)
        return None

    def access_reply(self, reply: RoomAccessReply, room: str) -> Refuse | None:
        """Chat's answer to whether the user may enter or read ``room``: None when allowed."""
        if reply.error is not None:
            return Refuse(reply.error.code, reply.error.message, room)
        if not reply.allowed:
            return Refuse(ErrorCode.FORBIDDEN, reply.reason or f"room {room} is private", room)
        return None

    def join_failed(self, room: str, error: Exception) -> Refuse:
        """The hub could not open ``room`` on this gateway."""
        return Refuse(ErrorCode.UNAVAILABLE, str(error), room)

    def history_page(self, room: str, page: tuple[list[ChatMessage], bool] | None) -> str | Refuse:
        """The ``history`` frame of a page read (None: the read failed)."""
        if page is None:
            return Refuse(ErrorCode.UNAVAILABLE, "history is unavailable; retry", room)
        messages, has_more = page
        return frames.history_frame(room, messages, has_more)

    def versions_answer(
        self, room: str, message_id: str, reply: VersionsReply | None
    ) -> str | Refuse:
        """The ``versions`` frame of a message (None: persistence did not answer)."""
        if reply is None:
            return Refuse(ErrorCode.UNAVAILABLE, "versions are unavailable; retry", room)
        if reply.error is not None:
            return Refuse(reply.error.code, reply.error.message, room)
        return frames.versions_frame(room, message_id, reply)

    def read_reply(self, reply: ReadMarkReply, room: str) -> str | Refuse:
        """Persistence's answer to a ``MarkRead``: the user's own ``read`` frame, or why not."""
        state = reply.state
        if state is None:
            error = reply.error
            if error is None:
                return Refuse(ErrorCode.INTERNAL, "the read mark was not stored; retry", room)
            return Refuse(error.code, error.message, room)
        unread = (state.unread_count, state.upto)
        return frames.read_frame(state.room, state.user_id, state.seq, unread)

    def auth_result(self, session: SessionState, outcome: Identity | AuthError) -> Decision:
        """The verification of an ``auth`` frame's token: extend the connection, or refuse."""
        if isinstance(outcome, AuthError):
            return Refuse(ErrorCode.UNAUTHORIZED, str(outcome), "auth")
        if outcome.user_id != session.user_id:
            return _OTHER_USER
        return ExtendToken(outcome.expires_at, frames.auth_frame(outcome.expires_at))

    def _room_of(self, session: SessionState, room: str | None, ref: str | None) -> str | Refuse:
        """The room a chat, typing or presence frame is for; it must be joined."""
        fixed = session.fixed_room
        if fixed is not None:
            return fixed
        if room is None:
            return Refuse(ErrorCode.INVALID_FRAME, _ROOM_REQUIRED, ref)
        if room not in session.rooms:
            return Refuse(ErrorCode.NOT_JOINED, f"join room {room} first", ref)
        return room

    def _chat(self, session: SessionState, frame: frames.ChatFrame) -> ChatSendRequest | Refuse:
        room = self._room_of(session, frame.room, frame.client_msg_id)
        if isinstance(room, Refuse):
            return room
        return ChatSendRequest(
            room=room,
            user_id=session.user_id,
            content=frame.content,
            sender_name=frame.sender_name,
            client_msg_id=frame.client_msg_id,
            first_attempt=frame.attempt == 1 and frame.client_msg_id is not None,
        )

    def _change(
        self, session: SessionState, frame: frames.EditFrame | frames.DeleteFrame
    ) -> ChatSendRequest | Refuse:
        """An edit or a deletion: sent to chat like a message, which decides who may make it
        (the author, or a moderator: the token's ``rooms:moderate`` scope)."""
        room = self._room_of(session, frame.room, frame.client_msg_id)
        if isinstance(room, Refuse):
            return room
        identity = session.identity
        edit = isinstance(frame, frames.EditFrame)
        return ChatSendRequest(
            room=room,
            user_id=session.user_id,
            content=frame.content if isinstance(frame, frames.EditFrame) else "",
            client_msg_id=frame.client_msg_id,
            first_attempt=frame.attempt == 1 and frame.client_msg_id is not None,
            kind=EventKind.EDIT if edit else EventKind.DELETE,
            target_id=frame.message_id,
            moderator=identity is not None and SCOPE_MODERATE in identity.scopes,
        )

    def _reaction(
        self, session: SessionState, frame: frames.ReactFrame
    ) -> ChatSendRequest | Refuse:
        """A ``react`` or an ``unreact``: sent to chat like an edit. Any member may react; the
        room must be joined (a private room's members only may join it)."""
        room = self._room_of(session, frame.room, frame.client_msg_id)
        if isinstance(room, Refuse):
            return room
        return ChatSendRequest(
            room=room,
            user_id=session.user_id,
            content=frame.emoji,
            client_msg_id=frame.client_msg_id,
            first_attempt=frame.attempt == 1 and frame.client_msg_id is not None,
            kind=EventKind.REACT if frame.add else EventKind.UNREACT,
            target_id=frame.message_id,
        )

    def _typing_frame(
        self, session: SessionState, frame: frames.TypingFrame, now: float
    ) -> PublishTyping | Refuse | None:
        room = self._room_of(session, frame.room, "typing")
        if isinstance(room, Refuse):
            return room
        change = self._typing.update(
            room, session.user_id, session.connection, frame.is_typing, now
        )
        return None if change is None else PublishTyping(room, change)

    def _presence_frame(
        self, session: SessionState, frame: frames.PresenceFrame
    ) -> SyncPresence | Refuse:
        room = self._room_of(session, frame.room, "presence")
        if isinstance(room, Refuse):
            return room
        try:
            self._presence.update_meta(
                room, session.user_id, session.connection, frame.meta, now_ms()
            )
        except MetaTooLargeError as err:
            return Refuse(ErrorCode.INVALID_FRAME, str(err), "presence")
        return SyncPresence(room)

    def _join(
        self, session: SessionState, frame: frames.JoinFrame
    ) -> EnterRoom | JoinDashboard | Refuse:
        room = frame.room
        if session.fixed_room is not None:
            return Refuse(
                ErrorCode.UNSUPPORTED,
                f"join is for /ws; this connection is in {session.fixed_room}",
                room,
            )
        if room in session.rooms or room in session.dashboards:
            return Refuse(ErrorCode.ALREADY_JOINED, f"already in room {room}", room)
        team = dashboard_team(room)
        if team is None:
            return EnterRoom(room, frame.since)
        refused = team_refusal(session.identity, self._auth_enabled, team)
        if refused is not None:
            return Refuse(ErrorCode.FORBIDDEN, refused, room)
        return JoinDashboard(room, team)

    def _leave(
        self, session: SessionState, frame: frames.LeaveFrame
    ) -> LeaveRoom | LeaveDashboard | Refuse:
        room = frame.room
        if session.fixed_room is not None:
            return Refuse(ErrorCode.UNSUPPORTED, _LEAVE_FIXED, room)
        if room in session.dashboards:
            return LeaveDashboard(room)
        if room not in session.rooms:
            return Refuse(ErrorCode.NOT_JOINED, f"not in room {room}", room)
        return LeaveRoom(room)

    def _versions(
        self, session: SessionState, frame: frames.VersionsFrame
    ) -> ReadVersions | Refuse:
        room = frame.room or session.fixed_room
        if room is None:
            return Refuse(ErrorCode.INVALID_FRAME, _ROOM_REQUIRED, "versions")
        return ReadVersions(room, frame.message_id, check_access=room not in session.rooms)

    def _read(self, session: SessionState, frame: frames.ReadFrame) -> MarkRead | Refuse:
        """A read mark: only in a joined room (whose access was checked on joining)."""
        room = self._room_of(session, frame.room, frame.room or "read")
        if isinstance(room, Refuse):
            return room
        return MarkRead(room, frame.seq)

    def _history(self, session: SessionState, frame: frames.HistoryFrame) -> ReadHistory | Refuse:
        room = frame.room or session.fixed_room
        if room is None:
            return Refuse(ErrorCode.INVALID_FRAME, _ROOM_REQUIRED, "history")
        return ReadHistory(room, frame.before, frame.limit, check_access=room not in session.rooms)
