"""Every bus message round-trips through its JSON form, and readers tolerate unknown fields."""

import json

import pytest
from pydantic import ValidationError
from switchboard_contracts import (
    BusError,
    BusMessage,
    ChatMessage,
    ChatSendReply,
    ChatSendRequest,
    ErrorCode,
    HistoryReply,
    HistoryRequest,
    ServiceReport,
)
from switchboard_contracts.chat import (
    EventKind,
    LastSeqReply,
    LastSeqRequest,
    MessageGetReply,
    MessageGetRequest,
    MessagesGetReply,
    MessagesGetRequest,
    MessageVersion,
    VersionsReply,
    VersionsRequest,
)
from switchboard_contracts.erase import RoomErased, UserEraseReply, UserEraseRequest
from switchboard_contracts.presence import (
    GatewayHeartbeat,
    PresenceEntry,
    PresenceReply,
    PresenceRequest,
    PresenceSnapshot,
    PresenceUser,
    TypingEvent,
    merge_meta,
    parse_presence_key,
    presence_key,
)
from switchboard_contracts.rooms import (
    Room,
    RoomAccessReply,
    RoomAccessRequest,
    RoomCreateRequest,
    RoomGetRequest,
    RoomListReply,
    RoomListRequest,
    RoomReply,
)

MESSAGE = ChatMessage(
    id="0b7f",
    room="lobby",
    seq=7,
    sender_id="alice",
    content="hi <3",
    timestamp=1764150000000,
    sender_name="Alice",
    client_msg_id="c-1",
)

EDIT = ChatMessage(
    id="9a01",
    room="lobby",
    seq=8,
    sender_id="alice",
    content="hi <3 (edited)",
    timestamp=1764150001000,
    client_msg_id="c-2",
    kind=EventKind.EDIT,
    target_id="0b7f",
    target_seq=7,
)
EDITED = MESSAGE.model_copy(
    update={
        "content": "hi <3 (edited)",
        "edit_count": 1,
        "edited_at": 1764150001000,
        "edited_seq": 8,
    }
)

SAMPLES: list[BusMessage] = [
    ChatSendRequest(room="lobby", user_id="alice", content="hi", client_msg_id="c-1"),
    ChatSendRequest(
        room="lobby",
        user_id="mod",
        content="",
        kind=EventKind.DELETE,
        target_id="0b7f",
        moderator=True,
    ),
    MESSAGE,
    EDIT,
    EDITED,
    MESSAGE.model_copy(update={"content": "", "deleted": True}),
    ChatSendReply(message=MESSAGE),
    ChatSendReply(error=BusError(code=ErrorCode.CONTENT_TOO_LONG, message="too long")),
    HistoryRequest(room="lobby", before=10, limit=20),
    HistoryReply(messages=[MESSAGE], has_more=True),
    LastSeqRequest(room="lobby"),
    VersionsRequest(room="lobby", message_id="0b7f"),
    VersionsReply(versions=[MessageVersion(seq=7, content="hi", timestamp=1)]),
    VersionsReply(deleted=True),
    UserEraseRequest(user_id="alice"),
    UserEraseReply(
        user_id="alice",
        rooms={"lobby": RoomErased(messages=2, edits=1)},
        stream_messages_removed=3,
    ),
    LastSeqReply(seq=3),
    ServiceReport(service="gateway", instance="gw-1", timestamp=1, active_connections=2),
    MessageGetRequest(id="0b7f"),
    MessageGetReply(message=MESSAGE),
    MessagesGetRequest(ids=["0b7f", "1c80"]),
    MessagesGetReply(messages=[MESSAGE]),
    Room(id="ops", name="Ops", private=True, members=["al", "bob"], created_by="al"),
    RoomCreateRequest(name="Ops", private=True, members=["bob"], created_by="al"),
    RoomReply(room=Room(id="ops", name="Ops")),
    RoomGetRequest(room="ops"),
    RoomListRequest(user_id="al"),
    RoomListReply(rooms=[Room(id="ops", name="Ops")]),
    RoomAccessRequest(room="ops", user_id="al"),
    RoomAccessReply(allowed=False, reason="private"),
    PresenceEntry(
        room="r", user_id="al", gateway="gw", connected_at=1, meta={"s": "away"}, meta_at=2
    ),
    GatewayHeartbeat(gateway="gw-1a2b", instance="gateway", started_at=1),
    PresenceSnapshot(
        room="r", revision=3, count=2, users=[PresenceUser(user_id="al", connected_at=1)]
    ),
    PresenceRequest(room="r", min_revision=3),
    PresenceReply(snapshot=PresenceSnapshot(room="r", revision=0, count=0)),
    TypingEvent(room="r", user_id="al", is_typing=True),
]


@pytest.mark.parametrize("message", SAMPLES, ids=lambda m: type(m).__name__)
def test_message_round_trips_through_json(message: BusMessage) -> None:
    assert type(message).decode(message.encode()) == message


@pytest.mark.parametrize("message", SAMPLES, ids=lambda m: type(m).__name__)
def test_message_carries_its_schema_version(message: BusMessage) -> None:
    assert json.loads(message.encode())["v"] == 1


def test_reader_ignores_fields_it_does_not_know() -> None:
    data = json.loads(MESSAGE.encode())
    data["addedLater"] = {"anything": True}
    assert ChatMessage.decode(json.dumps(data).encode()) == MESSAGE


def test_a_message_without_a_kind_encodes_no_lifecycle_fields() -> None:
    assert set(json.loads(MESSAGE.encode())) == {
        "v",
        "id",
        "room",
        "seq",
        "sender_id",
        "content",
        "timestamp",
        "sender_name",
        "client_msg_id",
    }


def test_an_edit_from_the_wire_decodes_with_its_kind_and_target() -> None:
    wire = (
        b'{"v":1,"id":"e","room":"r","seq":3,"sender_id":"al","content":"new","timestamp":1,'
        b'"kind":"edit","target_id":"m","target_seq":1}'
    )
    edit = ChatMessage.decode(wire)
    assert (edit.kind, edit.target_id, edit.target_seq) == (EventKind.EDIT, "m", 1)


def test_an_unknown_event_kind_is_refused() -> None:
    with pytest.raises(ValidationError, match="kind"):
        ChatMessage(
            id="e",
            room="r",
            seq=1,
            sender_id="a",
            content="",
            timestamp=1,
            kind="erase",  # type: ignore[arg-type]
        )


def test_sample_json_from_the_wire_decodes() -> None:
    wire = b'{"v":1,"room":"r1","user_id":"bob","content":"yo","sender_name":"Bob"}'
    assert ChatSendRequest.decode(wire) == ChatSendRequest(
        room="r1", user_id="bob", content="yo", sender_name="Bob"
    )


def test_client_msg_id_longer_than_64_characters_is_refused() -> None:
    with pytest.raises(ValidationError, match="client_msg_id"):
        ChatSendRequest(room="r", user_id="u", content="x", client_msg_id="x" * 65)


def test_history_limit_is_bounded() -> None:
    with pytest.raises(ValidationError, match="limit"):
        HistoryRequest(room="r", limit=101)


def test_room_ids_in_room_messages_must_be_subject_tokens() -> None:
    with pytest.raises(ValidationError, match="id"):
        RoomCreateRequest(id="a.b", name="x", created_by="al")


def test_a_room_name_is_at_most_100_characters() -> None:
    with pytest.raises(ValidationError, match="name"):
        RoomCreateRequest(name="x" * 101, created_by="al")


def test_presence_keys_round_trip_and_foreign_keys_are_not_presence() -> None:
    key = presence_key("lobby", "alice", "gw-1")
    assert key == "lobby.alice.gw-1"
    assert parse_presence_key(key) == ("lobby", "alice", "gw-1")
    assert parse_presence_key("lobby.alice") is None
    assert parse_presence_key("lobby.al*ce.gw") is None


def test_merged_metadata_applies_changes_in_order() -> None:
    assert merge_meta([(5, {"a": 2}), (1, {"a": 1, "b": 1})]) == {"a": 2, "b": 1}
