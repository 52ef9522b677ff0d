"""Notification bus messages round-trip through JSON; their subjects fall in their streams."""

import json

import pytest
from pydantic import ValidationError
from switchboard_contracts import BusError, BusMessage, ErrorCode, InvalidIdError, streams, subjects
from switchboard_contracts.notify import (
    EVENT_HEADER,
    UNREAD_EVENT,
    BroadcastJob,
    BroadcastReply,
    BroadcastRequest,
    InboxItem,
    InboxReply,
    InboxRequest,
    LastCursorReply,
    LastCursorRequest,
    MarkReadReply,
    MarkReadRequest,
    Membership,
    MembershipsReply,
    MembershipsRequest,
    Notification,
    NotificationType,
    NotifySendReply,
    NotifySendRequest,
    ReadReply,
    ReadRequest,
    RegisterReply,
    RegisterRequest,
    ReplayReply,
    ReplayRequest,
    UnreadEvent,
    at_position,
    audience_of,
)

NOTIFICATION = Notification(
    id="n-1",
    user_id="alice",
    cursor=3,
    type=NotificationType.WARNING,
    title="Disk",
    message="almost full\nreally",
    timestamp=1764150000000,
    broadcast_id="b-1",
    team="ops",
)

SAMPLES: list[BusMessage] = [
    NOTIFICATION,
    NotifySendRequest(user_id="alice", type=NotificationType.INFO, title="t", message="m"),
    NotifySendReply(notification=NOTIFICATION),
    NotifySendReply(error=BusError(code=ErrorCode.INVALID_USER, message="bad")),
    BroadcastRequest(team="ops", type=NotificationType.ERROR, title="t", message="m"),
    BroadcastJob(
        id="b", team=None, type=NotificationType.INFO, title="t", message="m", timestamp=1
    ),
    BroadcastReply(broadcast_id="b"),
    ReadRequest(user_id="alice", notification_id="n-1"),
    ReadRequest(user_id="alice"),
    ReadReply(unread_count=4),
    MarkReadRequest(user_id="alice", upto=9),
    MarkReadReply(unread_count=1, version=7),
    UnreadEvent(user_id="alice", unread_count=0, version=8),
    RegisterRequest(user_id="alice", teams=["ops", "dev"]),
    RegisterReply(),
    MembershipsRequest(user_id="carol"),
    MembershipsReply(memberships=[Membership(audience="team.ops", from_cursor=3, to_cursor=9)]),
    InboxRequest(user_id="alice", unread_only=True, before=9, limit=5),
    InboxReply(items=[InboxItem(notification=NOTIFICATION, read=True)], unread_count=2),
    ReplayRequest(user_id="alice", after=2, limit=50, states_only=True),
    ReplayReply(notifications=[NOTIFICATION], read_upto=1, read_cursors=[3]),
    LastCursorRequest(user_id="alice"),
    LastCursorReply(cursor=12),
]


@pytest.mark.parametrize("message", SAMPLES, ids=lambda m: type(m).__name__)
def test_notify_message_round_trips_through_json(message: BusMessage) -> None:
    assert type(message).decode(message.encode()) == message
    assert json.loads(message.encode())["v"] == 1


def test_a_notification_from_the_wire_decodes() -> None:
    wire = (
        b'{"v":1,"id":"x","user_id":"bob","cursor":1,"type":"success","title":"t",'
        b'"message":"m","timestamp":5,"later":true}'
    )
    assert Notification.decode(wire).type is NotificationType.SUCCESS


@pytest.mark.parametrize(
    ("fields", "named"),
    [({"type": "urgent"}, "type"), ({"title": "x" * 201}, "title"), ({"message": ""}, "message")],
)
def test_send_requests_out_of_bounds_are_refused(fields: dict[str, str], named: str) -> None:
    base = {"user_id": "a", "type": "info", "title": "t", "message": "m"}
    with pytest.raises(ValidationError, match=named):
        NotifySendRequest.model_validate({**base, **fields})


def test_user_subjects_fall_in_the_notify_stream_and_unread_events_do_not() -> None:
    prefixes = [pattern.removesuffix(">") for pattern in streams.NOTIFY.subjects]
    assert any(subjects.notify_user("alice").startswith(p) for p in prefixes)
    assert any(subjects.notify_audience("all").startswith(p) for p in prefixes)
    for other in (subjects.notify_live("alice"), subjects.notify_unread("alice")):
        assert not any(other.startswith(p) for p in prefixes)
    assert not any(subjects.NOTIFY_SEND.startswith(p) for p in prefixes)


def test_unread_events_share_the_live_subject_with_the_streams_republished_entries() -> None:
    """One subscription per user hears both; the header tells them apart."""
    assert (
        subjects.notify_live("alice") == "notify.live.user.alice"
    )  # where `notify.user.alice` goes
    # never a header JetStream sets on what it republishes, nor one nats-py treats specially
    assert not EVENT_HEADER.lower().startswith("nats-")
    assert (EVENT_HEADER, UNREAD_EVENT) == ("Switchboard-Event", "unread")


def test_the_legacy_unread_subject_is_not_the_live_one() -> None:
    assert subjects.notify_unread("alice") == "notify.unread.alice"
    assert subjects.notify_unread("alice") != subjects.notify_live("alice")


def test_broadcast_jobs_have_their_own_work_queue_stream() -> None:
    assert streams.NOTIFY_JOBS.work_queue
    assert subjects.NOTIFY_JOB_BROADCAST.startswith(streams.NOTIFY_JOBS.subjects[0][:-1])
    every = [
        s for spec in (streams.CHAT, streams.NOTIFY, streams.NOTIFY_JOBS) for s in spec.subjects
    ]
    assert len(every) == len(set(every))


@pytest.mark.parametrize("bad", ["a.b", "*", ">", "", "x" * 65])
def test_user_ids_that_would_break_a_subject_are_refused(bad: str) -> None:
    with pytest.raises(InvalidIdError, match="user id"):
        subjects.notify_user(bad)


def test_a_reader_gives_an_entry_its_stream_position_unless_it_carries_its_own() -> None:
    draft = NOTIFICATION.model_copy(update={"cursor": 0})
    assert at_position(draft, 4711).cursor == 4711
    assert at_position(NOTIFICATION, 4711) == NOTIFICATION  # stored before positions: kept


def test_a_membership_covers_the_positions_after_it_began_up_to_where_it_ended() -> None:
    ended = Membership(audience="team.ops", from_cursor=10, to_cursor=20)
    assert [c for c in (10, 11, 20, 21) if ended.covers(c)] == [11, 20]
    assert Membership(audience="all", from_cursor=10).covers(10**12)


def test_audiences_and_their_subjects() -> None:
    assert (audience_of(None), audience_of("ops")) == ("all", "team.ops")
    assert subjects.notify_audience("team.ops") == "notify.audience.team.ops"
    assert subjects.notify_live_audience("all") == "notify.live.audience.all"
    assert subjects.notify_live("alice") == "notify.live.user.alice"
    for bad in ("everyone", "team.", "team.a b"):
        with pytest.raises(InvalidIdError):
            subjects.notify_audience(bad)
