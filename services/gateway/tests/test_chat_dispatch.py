"""The chat dispatcher, without sockets: frames in (as a client sends them), decisions out."""

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from switchboard_contracts import BusError, ChatMessage, ChatSendReply, ChatSendRequest, EventKind
from switchboard_contracts import ErrorCode as BusErrorCode
from switchboard_contracts.chat import MessageVersion, VersionsReply
from switchboard_contracts.reads import ReadMarkReply, ReadState
from switchboard_contracts.rooms import RoomAccessReply
from switchboard_gateway.chat import frames
from switchboard_gateway.chat.dispatch import (
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
from switchboard_gateway.chat.presence import LocalPresence
from switchboard_gateway.chat.typing_indicators import TypingSource
from switchboard_gateway.edge.rate_limit import FrameRateLimit
from switchboard_gateway.edge.tokens import AuthError, Identity
from switchboard_protocol import CloseCode, ErrorCode


@dataclass
class State:
    """A session as the dispatcher sees it."""

    user_id: str = "al"
    connection: str = "al-1"
    fixed_room: str | None = None
    rooms: set[str] = field(default_factory=set)
    dashboards: set[str] = field(default_factory=set)
    identity: Identity | None = None


def dispatcher(
    *, auth_enabled: bool = False, renewals: bool = False
) -> tuple[ChatDispatch, LocalPresence]:
    presence = LocalPresence("gw")
    typing = TypingSource(throttle=1.0, timeout=5.0)
    return ChatDispatch(presence, typing, auth_enabled=auth_enabled, renewals=renewals), presence


def decide(
    dispatch: ChatDispatch, state: State, frame: dict[str, Any] | str, now: float = 0.0
) -> Decision | None:
    text = frame if isinstance(frame, str) else json.dumps(frame)
    return dispatch.frame(state, frames.parse_client_frame(text), now)


def on_ws(*rooms: str) -> State:
    return State(rooms=set(rooms))


def on_chat_path(room: str = "lobby") -> State:
    return State(fixed_room=room, rooms={room})


def message(seq: int = 7, client_msg_id: str | None = "m1") -> ChatMessage:
    return ChatMessage(
        id="id-7",
        room="lobby",
        seq=seq,
        sender_id="al",
        content="hi",
        timestamp=1_700_000_000_000,
        client_msg_id=client_msg_id,
    )


# chat


def test_a_chat_frame_in_a_joined_room_is_sent_to_chat_as_the_connections_user() -> None:
    dispatch, _ = dispatcher()
    frame = {"type": "chat", "payload": {"content": "hi", "room": "lobby", "clientMsgId": "m1"}}
    assert decide(dispatch, on_ws("lobby"), frame) == ChatSendRequest(
        room="lobby", user_id="al", content="hi", sender_name=None, client_msg_id="m1"
    )


@pytest.mark.parametrize(
    ("payload", "first"),
    [
        ({"clientMsgId": "m1", "attempt": 1}, True),
        ({"clientMsgId": "m1", "attempt": 2}, False),
        ({"clientMsgId": "m1"}, False),
        ({"attempt": 1}, False),
    ],
    ids=["first-attempt", "resend", "attempt-unsaid", "no-client-msg-id"],
)
def test_only_a_first_attempt_with_a_client_msg_id_skips_chats_lookup(
    payload: dict[str, object], first: bool
) -> None:
    dispatch, _ = dispatcher()
    frame = {"type": "chat", "payload": {"content": "hi", "room": "lobby", **payload}}
    decision = decide(dispatch, on_ws("lobby"), frame)
    assert isinstance(decision, ChatSendRequest)
    assert decision.first_attempt is first


def test_a_chat_frame_on_the_chat_path_goes_to_its_room_whatever_it_names() -> None:
    dispatch, _ = dispatcher()
    frame = {"type": "chat", "payload": {"content": "hi", "senderName": "Al", "room": "other"}}
    decision = decide(dispatch, on_chat_path("lobby"), frame)
    assert isinstance(decision, ChatSendRequest)
    assert (decision.room, decision.sender_name) == ("lobby", "Al")


def test_a_chat_frame_on_ws_needs_a_room() -> None:
    dispatch, _ = dispatcher()
    frame = {"type": "chat", "payload": {"content": "hi", "clientMsgId": "m1"}}
    assert decide(dispatch, on_ws("lobby"), frame) == Refuse(
        ErrorCode.INVALID_FRAME, "payload.room is required on /ws", "m1"
    )


def test_a_chat_frame_for_a_room_not_joined_is_refused() -> None:
    dispatch, _ = dispatcher()
    frame = {"type": "chat", "payload": {"content": "hi", "room": "elsewhere", "clientMsgId": "m1"}}
    assert decide(dispatch, on_ws("lobby"), frame) == Refuse(
        ErrorCode.NOT_JOINED, "join room elsewhere first", "m1"
    )


def test_chats_answer_is_the_ack_or_its_error() -> None:
    dispatch, _ = dispatcher()
    ack = dispatch.chat_reply(ChatSendReply(message=message()), "m1")
    assert isinstance(ack, str)
    assert json.loads(ack)["type"] == "ack"
    assert json.loads(ack)["payload"] == {
        "clientMsgId": "m1",
        "id": "id-7",
        "seq": 7,
        "room": "lobby",
    }
    refused = ChatSendReply(error=BusError(code=BusErrorCode.CONTENT_TOO_LONG, message="too long"))
    assert dispatch.chat_reply(refused, "m1") == Refuse(
        ErrorCode.CONTENT_TOO_LONG, "too long", "m1"
    )
    assert dispatch.chat_reply(ChatSendReply(), "m1") is None


# malformed frames and ping


def test_a_malformed_frame_is_refused_and_the_connection_stays() -> None:
    dispatch, _ = dispatcher()
    assert decide(dispatch, on_ws(), {"type": "nope"}) == Refuse(
        ErrorCode.UNKNOWN_TYPE, "unknown frame type 'nope'", "nope"
    )


def test_only_the_chat_path_also_gets_the_invalid_format_notice_for_unparsable_frames() -> None:
    dispatch, _ = dispatcher()
    on_path = decide(dispatch, on_chat_path(), "{not json")
    on_ws_ = decide(dispatch, on_ws(), "{not json")
    assert isinstance(on_path, Refuse)
    assert isinstance(on_ws_, Refuse)
    assert on_path.code == on_ws_.code == ErrorCode.INVALID_JSON
    assert (on_path.notice, on_ws_.notice) == (True, False)


def test_a_parsable_but_invalid_frame_gets_no_notice_on_the_chat_path() -> None:
    dispatch, _ = dispatcher()
    decision = decide(dispatch, on_chat_path(), {"type": "chat", "payload": {}})
    assert isinstance(decision, Refuse)
    assert not decision.notice


def test_a_ping_is_answered_with_a_pong_echoing_its_fields() -> None:
    dispatch, _ = dispatcher()
    pong = decide(dispatch, on_ws(), {"type": "ping", "payload": {"n": 1}, "sentAt": 5})
    assert isinstance(pong, str)
    assert json.loads(pong) == {
        "type": "pong",
        "payload": {"n": 1},
        "sentAt": 5,
        "timestamp": json.loads(pong)["timestamp"],
    }


# typing and presence


def test_typing_is_published_when_it_starts_and_throttled_while_it_goes_on() -> None:
    dispatch, _ = dispatcher()
    state = on_ws("lobby")
    frame = {"type": "typing", "payload": {"isTyping": True, "room": "lobby"}}
    assert decide(dispatch, state, frame, now=0.0) == PublishTyping("lobby", True)
    assert decide(dispatch, state, frame, now=0.5) is None
    stop = {"type": "typing", "payload": {"isTyping": False, "room": "lobby"}}
    assert decide(dispatch, state, stop, now=0.6) == PublishTyping("lobby", False)


def test_typing_in_a_room_not_joined_is_refused() -> None:
    dispatch, _ = dispatcher()
    frame = {"type": "typing", "payload": {"isTyping": True, "room": "x"}}
    assert decide(dispatch, on_ws("lobby"), frame) == Refuse(
        ErrorCode.NOT_JOINED, "join room x first", "typing"
    )


def test_leaving_while_typing_stops_the_indicator() -> None:
    dispatch, _ = dispatcher()
    state = on_chat_path()
    decide(dispatch, state, {"type": "typing", "payload": {"isTyping": True}}, now=0.0)
    assert dispatch.left(state, "lobby", now=0.1) == PublishTyping("lobby", False)
    assert dispatch.left(state, "lobby", now=0.2) is None


def test_a_presence_frame_merges_the_metadata_and_asks_for_a_write() -> None:
    dispatch, presence = dispatcher()
    state = on_ws("lobby")
    presence.add("lobby", "al", "al-1", 1)
    frame = {"type": "presence", "payload": {"status": "away", "room": "lobby"}}
    assert decide(dispatch, state, frame) == SyncPresence("lobby")
    entry = presence.entry("lobby", "al")
    assert entry is not None
    assert entry.meta == {"status": "away"}


def test_presence_metadata_that_grows_past_the_limit_is_refused_and_kept_as_it_was() -> None:
    dispatch, presence = dispatcher()
    state = on_chat_path()
    presence.add("lobby", "al", "al-1", 1)
    assert decide(dispatch, state, {"type": "presence", "payload": {"a": "x" * 600}}) == (
        SyncPresence("lobby")
    )
    decision = decide(dispatch, state, {"type": "presence", "payload": {"b": "y" * 600}})
    assert isinstance(decision, Refuse)
    assert (decision.code, decision.ref) == (ErrorCode.INVALID_FRAME, "presence")
    entry = presence.entry("lobby", "al")
    assert entry is not None
    assert set(entry.meta) == {"a"}


def test_presence_in_a_room_not_joined_is_refused() -> None:
    dispatch, _ = dispatcher()
    frame = {"type": "presence", "payload": {"status": "away"}}
    assert decide(dispatch, on_ws("lobby"), frame) == Refuse(
        ErrorCode.INVALID_FRAME, "payload.room is required on /ws", "presence"
    )


# join and leave


def test_joining_a_room_asks_to_enter_it_with_since() -> None:
    dispatch, _ = dispatcher()
    frame = {"type": "join", "payload": {"room": "lobby", "since": 4}}
    assert decide(dispatch, on_ws(), frame) == EnterRoom("lobby", 4)
    assert decide(dispatch, on_ws(), {"type": "join", "payload": {"room": "lobby"}}) == (
        EnterRoom("lobby", None)
    )


def test_joining_twice_is_refused() -> None:
    dispatch, _ = dispatcher()
    frame = {"type": "join", "payload": {"room": "lobby"}}
    assert decide(dispatch, on_ws("lobby"), frame) == Refuse(
        ErrorCode.ALREADY_JOINED, "already in room lobby", "lobby"
    )
    dashboard = {"type": "join", "payload": {"room": "dashboard:ops"}}
    state = State(dashboards={"dashboard:ops"})
    assert decide(dispatch, state, dashboard) == Refuse(
        ErrorCode.ALREADY_JOINED, "already in room dashboard:ops", "dashboard:ops"
    )


def test_join_and_leave_are_unsupported_on_the_chat_path() -> None:
    dispatch, _ = dispatcher()
    state = on_chat_path("lobby")
    assert decide(dispatch, state, {"type": "join", "payload": {"room": "b"}}) == Refuse(
        ErrorCode.UNSUPPORTED, "join is for /ws; this connection is in lobby", "b"
    )
    assert decide(dispatch, state, {"type": "leave", "payload": {"room": "lobby"}}) == Refuse(
        ErrorCode.UNSUPPORTED, "leave is for /ws; close the connection", "lobby"
    )


def test_a_dashboard_room_is_joined_by_a_member_of_its_team() -> None:
    dispatch, _ = dispatcher(auth_enabled=True)
    frame = {"type": "join", "payload": {"room": "dashboard:ops"}}
    member = State(identity=Identity("al", teams=frozenset({"ops"})))
    assert decide(dispatch, member, frame) == JoinDashboard("dashboard:ops", "ops")
    outsider = State(identity=Identity("al", teams=frozenset({"dev"})))
    assert decide(dispatch, outsider, frame) == Refuse(
        ErrorCode.FORBIDDEN, "not a member of team ops", "dashboard:ops"
    )


def test_without_auth_any_dashboard_may_be_joined() -> None:
    dispatch, _ = dispatcher(auth_enabled=False)
    frame = {"type": "join", "payload": {"room": "dashboard:ops"}}
    assert decide(dispatch, State(), frame) == JoinDashboard("dashboard:ops", "ops")


def test_leaving_says_which_kind_of_room_and_refuses_one_not_joined() -> None:
    dispatch, _ = dispatcher()
    state = State(rooms={"lobby"}, dashboards={"dashboard:ops"})
    assert decide(dispatch, state, {"type": "leave", "payload": {"room": "lobby"}}) == (
        LeaveRoom("lobby")
    )
    leave_dashboard = {"type": "leave", "payload": {"room": "dashboard:ops"}}
    assert decide(dispatch, state, leave_dashboard) == LeaveDashboard("dashboard:ops")
    assert decide(dispatch, state, {"type": "leave", "payload": {"room": "x"}}) == Refuse(
        ErrorCode.NOT_JOINED, "not in room x", "x"
    )


def test_entering_needs_chats_permission() -> None:
    dispatch, _ = dispatcher()
    assert dispatch.access_reply(RoomAccessReply(allowed=True), "vip") is None
    assert dispatch.access_reply(RoomAccessReply(allowed=False), "vip") == Refuse(
        ErrorCode.FORBIDDEN, "room vip is private", "vip"
    )
    assert dispatch.access_reply(RoomAccessReply(reason="members only"), "vip") == Refuse(
        ErrorCode.FORBIDDEN, "members only", "vip"
    )
    unavailable = BusError(code=BusErrorCode.UNAVAILABLE, message="retry")
    assert dispatch.access_reply(RoomAccessReply(error=unavailable), "vip") == Refuse(
        ErrorCode.UNAVAILABLE, "retry", "vip"
    )


def test_a_room_that_cannot_be_opened_is_unavailable() -> None:
    dispatch, _ = dispatcher()
    assert dispatch.join_failed("lobby", RuntimeError("no NATS")) == Refuse(
        ErrorCode.UNAVAILABLE, "no NATS", "lobby"
    )


# history


def test_history_of_a_joined_room_needs_no_access_check() -> None:
    dispatch, _ = dispatcher()
    frame = {"type": "history", "payload": {"room": "lobby", "before": 9, "limit": 5}}
    assert decide(dispatch, on_ws("lobby"), frame) == ReadHistory("lobby", 9, 5, False)
    assert decide(dispatch, on_ws(), frame) == ReadHistory("lobby", 9, 5, True)


def test_history_on_the_chat_path_defaults_to_its_room() -> None:
    dispatch, _ = dispatcher()
    decision = decide(dispatch, on_chat_path("lobby"), {"type": "history", "payload": {}})
    assert decision == ReadHistory("lobby", None, frames.DEFAULT_HISTORY_LIMIT, False)


def test_history_on_ws_needs_a_room() -> None:
    dispatch, _ = dispatcher()
    assert decide(dispatch, on_ws(), {"type": "history", "payload": {}}) == Refuse(
        ErrorCode.INVALID_FRAME, "payload.room is required on /ws", "history"
    )


def test_a_history_page_becomes_one_frame_or_unavailable() -> None:
    dispatch, _ = dispatcher()
    page = dispatch.history_page("lobby", ([message(seq=2), message(seq=1)], True))
    assert isinstance(page, str)
    payload = json.loads(page)["payload"]
    assert [m["seq"] for m in payload["messages"]] == [2, 1]
    assert payload["hasMore"] is True
    assert dispatch.history_page("lobby", None) == Refuse(
        ErrorCode.UNAVAILABLE, "history is unavailable; retry", "lobby"
    )


# auth


def test_auth_is_unsupported_without_an_authenticator() -> None:
    dispatch, _ = dispatcher(renewals=False)
    assert decide(dispatch, on_ws(), {"type": "auth", "payload": {"token": "t"}}) == Refuse(
        ErrorCode.UNSUPPORTED, "authentication is disabled on this gateway", "auth"
    )


def test_an_auth_frame_is_verified_then_extends_the_connection_for_the_same_user() -> None:
    dispatch, _ = dispatcher(auth_enabled=True, renewals=True)
    state = on_ws()
    assert decide(dispatch, state, {"type": "auth", "payload": {"token": "t"}}) == RenewAuth("t")
    extended = dispatch.auth_result(state, Identity("al", expires_at=2_000_000_000.0))
    assert isinstance(extended, ExtendToken)
    assert extended.expires_at == 2_000_000_000.0
    assert json.loads(extended.frame)["payload"] == {"expiresAt": "2033-05-18T03:33:20.000Z"}


def test_a_token_for_another_user_or_an_invalid_one_is_refused() -> None:
    dispatch, _ = dispatcher(auth_enabled=True, renewals=True)
    assert dispatch.auth_result(on_ws(), Identity("bo")) == Refuse(
        ErrorCode.FORBIDDEN, "the token is for another user", "auth"
    )
    assert dispatch.auth_result(on_ws(), AuthError("the token expired")) == Refuse(
        ErrorCode.UNAUTHORIZED, "the token expired", "auth"
    )


def test_the_connection_closes_once_its_token_expired() -> None:
    dispatch, _ = dispatcher()
    assert dispatch.expiry(None, now=1e12) is None
    assert dispatch.expiry(100.0, now=99.0) is None
    assert dispatch.expiry(100.0, now=100.0) == Close(
        CloseCode.POLICY_VIOLATION, "the token expired"
    )


# rate limits


def test_frames_over_the_rate_are_dropped_then_the_connection_is_closed() -> None:
    dispatch, _ = dispatcher()
    own = FrameRateLimit(rate=1.0, burst=2, strikes=3)
    user = FrameRateLimit(rate=100.0, burst=100, strikes=3)
    assert dispatch.admit(own, user, now=0.0) is None
    assert dispatch.admit(own, user, now=0.0) is None
    refused = Refuse(ErrorCode.RATE_LIMITED, "too many frames; slow down", None)
    assert dispatch.admit(own, user, now=0.0) == refused
    assert dispatch.admit(own, user, now=0.0) == refused
    assert dispatch.admit(own, user, now=0.0) == Close(
        CloseCode.RATE_LIMITED, "rate limit exceeded repeatedly"
    )


def test_the_users_bucket_limits_all_of_their_connections() -> None:
    dispatch, _ = dispatcher()
    user = FrameRateLimit(rate=1.0, burst=1, strikes=5)
    first = FrameRateLimit(rate=100.0, burst=100, strikes=5)
    second = FrameRateLimit(rate=100.0, burst=100, strikes=5)
    assert dispatch.admit(first, user, now=0.0) is None
    decision = dispatch.admit(second, user, now=0.0)
    assert isinstance(decision, Refuse)
    assert decision.code == ErrorCode.RATE_LIMITED


def test_an_edit_in_a_joined_room_is_sent_to_chat_naming_its_target() -> None:
    dispatch, _ = dispatcher()
    frame = {
        "type": "edit",
        "payload": {"room": "lobby", "messageId": "m-9", "content": "new", "clientMsgId": "e1"},
    }
    assert decide(dispatch, on_ws("lobby"), frame) == ChatSendRequest(
        room="lobby",
        user_id="al",
        content="new",
        client_msg_id="e1",
        kind=EventKind.EDIT,
        target_id="m-9",
    )


def test_a_delete_on_the_chat_path_goes_to_its_room_with_the_moderator_scope() -> None:
    dispatch, _ = dispatcher(auth_enabled=True)
    moderator = State(
        fixed_room="lobby", identity=Identity("al", scopes=frozenset({"rooms:moderate"}))
    )
    frame = {"type": "delete", "payload": {"messageId": "m-9", "clientMsgId": "d1", "attempt": 1}}
    assert decide(dispatch, moderator, frame) == ChatSendRequest(
        room="lobby",
        user_id="al",
        content="",
        client_msg_id="d1",
        first_attempt=True,
        kind=EventKind.DELETE,
        target_id="m-9",
        moderator=True,
    )
    plain = State(fixed_room="lobby", identity=Identity("al", scopes=frozenset({"rooms:manage"})))
    decision = decide(dispatch, plain, frame)
    assert isinstance(decision, ChatSendRequest)
    assert not decision.moderator


def test_an_edit_for_a_room_not_joined_is_refused_with_its_client_msg_id() -> None:
    dispatch, _ = dispatcher()
    frame = {
        "type": "edit",
        "payload": {"room": "other", "messageId": "m-9", "content": "x", "clientMsgId": "e1"},
    }
    assert decide(dispatch, on_ws("lobby"), frame) == Refuse(
        ErrorCode.NOT_JOINED, "join room other first", "e1"
    )


def test_a_reaction_in_a_joined_room_is_sent_to_chat_and_one_elsewhere_is_refused() -> None:
    dispatch, _ = dispatcher(auth_enabled=True)
    member = State(rooms={"lobby"}, identity=Identity("al", scopes=frozenset({"rooms:moderate"})))
    payload = {"room": "lobby", "messageId": "m-9", "emoji": "👍", "clientMsgId": "x1"}
    frame = {"type": "unreact", "payload": payload}
    assert decide(dispatch, member, frame) == ChatSendRequest(
        room="lobby",
        user_id="al",
        content="👍",
        client_msg_id="x1",
        kind=EventKind.UNREACT,
        target_id="m-9",
    )  # no moderator flag: a reaction needs none
    elsewhere = {"type": "unreact", "payload": {**payload, "room": "other"}}
    assert decide(dispatch, member, elsewhere) == Refuse(
        ErrorCode.NOT_JOINED, "join room other first", "x1"
    )


def test_versions_of_a_message_in_a_room_not_joined_ask_for_access_first() -> None:
    dispatch, _ = dispatcher()
    frame = {"type": "versions", "payload": {"room": "other", "messageId": "m-9"}}
    assert decide(dispatch, on_ws("lobby"), frame) == ReadVersions("other", "m-9", True)
    joined_room = {"type": "versions", "payload": {"room": "lobby", "messageId": "m-9"}}
    assert decide(dispatch, on_ws("lobby"), joined_room) == ReadVersions("lobby", "m-9", False)


def test_the_versions_answer_is_the_frame_or_why_not() -> None:
    dispatch, _ = dispatcher()
    reply = VersionsReply(versions=[MessageVersion(seq=1, content="v1", timestamp=5)])
    answer = dispatch.versions_answer("lobby", "m-9", reply)
    assert isinstance(answer, str)
    assert json.loads(answer)["payload"] == {
        "room": "lobby",
        "messageId": "m-9",
        "versions": [{"seq": 1, "content": "v1", "timestamp": 5}],
        "deleted": False,
    }
    missing = VersionsReply(error=BusError(code=BusErrorCode.NOT_FOUND, message="no message m-9"))
    assert dispatch.versions_answer("lobby", "m-9", missing) == Refuse(
        "not_found", "no message m-9", "lobby"
    )
    unanswered = dispatch.versions_answer("lobby", "m-9", None)
    assert isinstance(unanswered, Refuse)
    assert unanswered.code == ErrorCode.UNAVAILABLE


# read marks


def test_a_read_frame_in_a_joined_room_is_a_mark_of_its_seq() -> None:
    dispatch, _ = dispatcher()
    frame = {"type": "read", "payload": {"room": "lobby", "seq": 9}}
    assert decide(dispatch, on_ws("lobby"), frame) == MarkRead("lobby", 9)
    assert decide(dispatch, on_chat_path("lobby"), {"type": "read", "payload": {"seq": 3}}) == (
        MarkRead("lobby", 3)
    )


def test_a_read_frame_for_a_room_not_joined_or_without_a_room_is_refused() -> None:
    dispatch, _ = dispatcher()
    elsewhere = {"type": "read", "payload": {"room": "elsewhere", "seq": 1}}
    assert decide(dispatch, on_ws("lobby"), elsewhere) == Refuse(
        ErrorCode.NOT_JOINED, "join room elsewhere first", "elsewhere"
    )
    nowhere = decide(dispatch, on_ws("lobby"), {"type": "read", "payload": {"seq": 1}})
    assert isinstance(nowhere, Refuse)
    assert (nowhere.code, nowhere.ref) == (ErrorCode.INVALID_FRAME, "read")


def test_a_stored_mark_is_answered_with_the_users_own_read_frame_else_the_error() -> None:
    dispatch, _ = dispatcher()
    state = ReadState(room="lobby", user_id="al", seq=5, unread_count=2, upto=8)
    answer = dispatch.read_reply(ReadMarkReply(state=state), "lobby")
    assert isinstance(answer, str)
    frame = json.loads(answer)
    assert (frame["type"], frame["room"]) == ("read", "lobby")
    assert frame["payload"] == {"userId": "al", "seq": 5, "unreadCount": 2, "upto": 8}
    down = BusError(code=BusErrorCode.UNAVAILABLE, message="retry")
    assert dispatch.read_reply(ReadMarkReply(error=down), "lobby") == Refuse(
        ErrorCode.UNAVAILABLE, "retry", "lobby"
    )
