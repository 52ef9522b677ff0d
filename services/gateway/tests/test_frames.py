import json

import pytest
from switchboard_contracts import ChatMessage, EventKind
from switchboard_contracts.presence import PresenceSnapshot, PresenceUser
from switchboard_contracts.reactions import Reaction
from switchboard_gateway.chat import frames
from switchboard_gateway.chat.frames import ChatFrame, FrameError, PingFrame


def test_a_compatible_chat_frame_parses() -> None:
    frame = frames.parse_client_frame(
        '{"type":"chat","payload":{"content":"hi","senderName":"Al"},"senderId":"claimed"}'
    )
    assert frame == ChatFrame(content="hi", sender_name="Al", client_msg_id=None)


@pytest.mark.parametrize("text", ["not json", "{", b"\xff\xfe", "[1,2]", '"chat"', "42"])
def test_unparsable_frames_are_reported_as_such(text: str | bytes) -> None:
    result = frames.parse_client_frame(text)
    assert isinstance(result, FrameError)
    assert result.unparsable


@pytest.mark.parametrize(
    ("text", "code", "names"),
    [
        ('{"payload":{}}', "invalid_frame", "type"),
        ('{"type":7}', "invalid_frame", "type"),
        ('{"type":"chat"}', "invalid_frame", "payload.content"),
        ('{"type":"chat","payload":{"content":5}}', "invalid_frame", "payload.content"),
        ('{"type":"chat","payload":"hi"}', "invalid_frame", "payload"),
        (
            '{"type":"chat","payload":{"content":"x","clientMsgId":""}}',
            "invalid_frame",
            "clientMsgId",
        ),
        (
            '{"type":"chat","payload":{"content":"x","clientMsgId":"' + "c" * 65 + '"}}',
            "invalid_frame",
            "clientMsgId",
        ),
        ('{"type":"chat","payload":{"content":"x","senderName":3}}', "invalid_frame", "senderName"),
        ('{"type":"chat","payload":{"content":"x","attempt":0}}', "invalid_frame", "attempt"),
        ('{"type":"chat","payload":{"content":"x","attempt":"1"}}', "invalid_frame", "attempt"),
        ('{"type":"chat","payload":{"content":"x","attempt":true}}', "invalid_frame", "attempt"),
        ('{"type":"chat","payload":{"content":"x","attempt":1.5}}', "invalid_frame", "attempt"),
        ('{"type":"edit","payload":{"content":"x"}}', "invalid_frame", "payload.messageId"),
        ('{"type":"edit","payload":{"messageId":""}}', "invalid_frame", "payload.messageId"),
        ('{"type":"edit","payload":{"messageId":"m"}}', "invalid_frame", "payload.content"),
        ('{"type":"delete","payload":{"messageId":7}}', "invalid_frame", "payload.messageId"),
        ('{"type":"versions","payload":{"room":"r"}}', "invalid_frame", "payload.messageId"),
        ('{"type":"delete","payload":{"messageId":"m","attempt":0}}', "invalid_frame", "attempt"),
        ('{"type":"dance","payload":{}}', "unknown_type", "dance"),
    ],
)
def test_malformed_frames_get_an_error_naming_the_problem(text: str, code: str, names: str) -> None:
    result = frames.parse_client_frame(text)
    assert isinstance(result, FrameError)
    assert not result.unparsable
    assert result.code == code
    assert names in result.message


def test_ping_keeps_every_other_top_level_field_for_the_pong() -> None:
    frame = frames.parse_client_frame('{"type":"ping","payload":{"n":1},"sentAt":123}')
    assert frame == PingFrame(fields={"payload": {"n": 1}, "sentAt": 123})
    pong = json.loads(frames.pong_frame(frame.fields))
    assert pong["type"] == "pong"
    assert pong["payload"] == {"n": 1}
    assert pong["sentAt"] == 123


def test_chat_frame_carries_id_seq_and_room_at_top_level_and_in_payload() -> None:
    message = ChatMessage(
        id="m1",
        room="lobby",
        seq=3,
        sender_id="alice",
        content="<3",
        timestamp=5,
        client_msg_id="c",
    )
    frame = json.loads(frames.chat_frame(message))
    assert frame["type"] == "chat"
    for key, value in {
        "id": "m1",
        "seq": 3,
        "room": "lobby",
        "senderId": "alice",
        "timestamp": 5,
    }.items():
        assert frame[key] == value
        assert frame["payload"][key] == value
    assert frame["payload"]["content"] == "<3"
    assert frame["payload"]["clientMsgId"] == "c"


def test_ack_frame_names_the_stored_message() -> None:
    message = ChatMessage(
        id="m1", room="r", seq=9, sender_id="a", content="x", timestamp=1, client_msg_id="c"
    )
    ack = json.loads(frames.ack_frame(message))
    assert ack["type"] == "ack"
    assert ack["payload"] == {"clientMsgId": "c", "id": "m1", "seq": 9, "room": "r"}


def test_error_frame_has_code_message_and_ref() -> None:
    error = json.loads(frames.error_frame("content_too_long", "at most 5000", "c-1"))
    assert error == {
        "type": "error",
        "payload": {"code": "content_too_long", "message": "at most 5000", "ref": "c-1"},
        "timestamp": error["timestamp"],
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"type":"typing","payload":{"isTyping":true}}', frames.TypingFrame(True)),
        (
            '{"type":"typing","payload":{"isTyping":false,"room":"r"}}',
            frames.TypingFrame(False, "r"),
        ),
        (
            '{"type":"presence","payload":{"status":"away","room":"r"}}',
            frames.PresenceFrame({"status": "away"}, "r"),
        ),
        ('{"type":"join","payload":{"room":"r"}}', frames.JoinFrame("r")),
        ('{"type":"join","payload":{"room":"r","since":0}}', frames.JoinFrame("r", 0)),
        ('{"type":"leave","payload":{"room":"r"}}', frames.LeaveFrame("r")),
        ('{"type":"history","payload":{"room":"r"}}', frames.HistoryFrame("r", None, 50)),
        (
            '{"type":"history","payload":{"before":9,"limit":100}}',
            frames.HistoryFrame(None, 9, 100),
        ),
        (
            '{"type":"chat","payload":{"content":"x","room":"r"}}',
            ChatFrame("x", None, None, "r"),
        ),
    ],
)
def test_every_client_frame_type_parses(text: str, expected: frames.ClientFrame) -> None:
    assert frames.parse_client_frame(text) == expected


@pytest.mark.parametrize(
    ("text", "code", "names", "ref"),
    [
        ('{"type":"typing","payload":{}}', "invalid_frame", "isTyping", "typing"),
        ('{"type":"typing","payload":{"isTyping":"yes"}}', "invalid_frame", "isTyping", "typing"),
        ('{"type":"join","payload":{}}', "invalid_frame", "payload.room", "join"),
        ('{"type":"join","payload":{"room":"a.b"}}', "invalid_room", "room id", "a.b"),
        ('{"type":"join","payload":{"room":5}}', "invalid_room", "payload.room", "join"),
        ('{"type":"join","payload":{"room":"r","since":-1}}', "invalid_frame", "since", "r"),
        ('{"type":"join","payload":{"room":"r","since":true}}', "invalid_frame", "since", "r"),
        ('{"type":"leave","payload":{}}', "invalid_frame", "payload.room", "leave"),
        ('{"type":"history","payload":{"limit":0}}', "invalid_frame", "limit", "history"),
        ('{"type":"history","payload":{"room":"r","limit":101}}', "invalid_frame", "limit", "r"),
        ('{"type":"history","payload":{"before":"9"}}', "invalid_frame", "before", "history"),
        ('{"type":"presence","payload":{"userId":"x"}}', "invalid_frame", "userId", "presence"),
        (
            '{"type":"presence","payload":{"blob":"' + "x" * 1100 + '"}}',
            "invalid_frame",
            "1024",
            "presence",
        ),
        (
            '{"type":"chat","payload":{"content":"x","clientMsgId":"c","room":"a b"}}',
            "invalid_room",
            "room",
            "c",
        ),
    ],
)
def test_bad_fields_of_every_type_are_named(text: str, code: str, names: str, ref: str) -> None:
    result = frames.parse_client_frame(text)
    assert isinstance(result, FrameError)
    assert (result.code, result.ref) == (code, ref)
    assert names in result.message


def test_the_documented_client_frame_types_are_all_understood() -> None:
    assert sorted(frames.CLIENT_FRAME_TYPES) == [
        "auth",
        "chat",
        "delete",
        "edit",
        "history",
        "join",
        "leave",
        "ping",
        "presence",
        "react",
        "read",
        "typing",
        "unreact",
        "versions",
    ]


def test_presence_frame_lists_users_with_iso_times_and_metadata() -> None:
    snapshot = PresenceSnapshot(
        room="r",
        revision=4,
        count=3,
        users=[PresenceUser(user_id="al", connected_at=0, meta={"status": "away"})],
        truncated=True,
    )
    frame = json.loads(frames.presence_frame(snapshot))
    assert frame["type"] == "presence"
    assert frame["room"] == "r"
    assert frame["payload"] == {
        "onlineUsers": [
            {"userId": "al", "connectedAt": "1970-01-01T00:00:00.000Z", "status": "away"}
        ],
        "count": 3,
        "truncated": True,
    }


def test_typing_history_and_replay_frames() -> None:
    typing = json.loads(frames.typing_frame("r", "al", True))
    assert (typing["type"], typing["room"], typing["payload"]) == (
        "typing",
        "r",
        {"userId": "al", "isTyping": True},
    )
    message = ChatMessage(id="m", room="r", seq=1, sender_id="a", content="x", timestamp=1)
    history = json.loads(frames.history_frame("r", [message], has_more=False))
    assert history["payload"]["room"] == "r"
    assert history["payload"]["hasMore"] is False
    assert history["payload"]["messages"] == [frames.chat_frame_object(message)]
    replay = json.loads(frames.replay_frame("r", recovered=True))
    assert replay["payload"] == {"room": "r", "recovered": True}


def test_edit_and_delete_frames_parse_with_their_target() -> None:
    edit = frames.parse_client_frame(
        '{"type":"edit","payload":{"room":"r","messageId":"m","content":"new","clientMsgId":"e",'
        '"attempt":2}}'
    )
    assert edit == frames.EditFrame("m", "new", "e", "r", 2)
    delete = frames.parse_client_frame('{"type":"delete","payload":{"messageId":"m"}}')
    assert delete == frames.DeleteFrame("m", None)


def test_a_refused_edit_names_its_client_msg_id() -> None:
    refused = frames.parse_client_frame(
        '{"type":"edit","payload":{"messageId":"m","clientMsgId":"e-7"}}'
    )
    assert isinstance(refused, FrameError)
    assert refused.ref == "e-7"


def test_an_edit_event_is_an_edit_frame_at_its_own_seq_naming_its_target() -> None:
    event = ChatMessage(
        id="ev",
        room="r",
        seq=5,
        sender_id="mod",
        content="new",
        timestamp=9,
        client_msg_id="e",
        kind=EventKind.EDIT,
        target_id="m",
        target_seq=2,
    )
    frame = json.loads(frames.chat_frame(event))
    assert (frame["type"], frame["seq"], frame["id"], frame["senderId"]) == ("edit", 5, "ev", "mod")
    assert frame["payload"] == {
        "messageId": "m",
        "messageSeq": 2,
        "content": "new",
        "clientMsgId": "e",
        "id": "ev",
        "seq": 5,
        "room": "r",
        "senderId": "mod",
        "timestamp": 9,
    }
    deletion = event.model_copy(update={"kind": EventKind.DELETE, "content": ""})
    frame = json.loads(frames.chat_frame(deletion))
    assert frame["type"] == "delete"
    assert "content" not in frame["payload"]


def test_a_message_read_back_shows_its_edits_or_its_tombstone() -> None:
    message = ChatMessage(id="m", room="r", seq=2, sender_id="al", content="v2", timestamp=1)
    plain = json.loads(frames.chat_frame(message))["payload"]
    assert "editCount" not in plain
    assert "deleted" not in plain
    edited = message.model_copy(update={"edit_count": 1, "edited_at": 7, "edited_seq": 3})
    payload = json.loads(frames.chat_frame(edited))["payload"]
    assert (payload["content"], payload["editCount"], payload["editedAt"]) == ("v2", 1, 7)
    gone = message.model_copy(update={"content": "", "deleted": True})
    payload = json.loads(frames.chat_frame(gone))["payload"]
    assert (payload["content"], payload["deleted"], payload["seq"]) == ("", True, 2)


def test_react_and_unreact_frames_parse_with_their_target_and_emoji() -> None:
    react = frames.parse_client_frame(
        '{"type":"react","payload":{"room":"r","messageId":"m","emoji":"👍🏽","clientMsgId":"x",'
        '"attempt":1}}'
    )
    assert react == frames.ReactFrame("m", "👍🏽", True, "x", "r", 1)
    unreact = frames.parse_client_frame(
        '{"type":"unreact","payload":{"messageId":"m","emoji":":tada:"}}'
    )
    assert unreact == frames.ReactFrame("m", ":tada:", False, None)


def test_a_bad_or_missing_emoji_is_refused_naming_the_field_and_the_client_msg_id() -> None:
    bad = frames.parse_client_frame(
        '{"type":"react","payload":{"messageId":"m","emoji":"a b","clientMsgId":"x-2"}}'
    )
    assert isinstance(bad, FrameError)
    assert (bad.code, bad.ref) == ("invalid_content", "x-2")
    assert bad.message.startswith("payload.emoji must not contain whitespace")
    missing = frames.parse_client_frame('{"type":"unreact","payload":{"messageId":"m"}}')
    assert isinstance(missing, FrameError)
    assert (missing.code, missing.message) == (
        "invalid_frame",
        "payload.emoji is required and must be a string",
    )


def test_a_reaction_event_is_a_frame_of_its_kind_with_the_emoji() -> None:
    event = ChatMessage(
        id="ev",
        room="r",
        seq=5,
        sender_id="bo",
        content="👍",
        timestamp=9,
        kind=EventKind.UNREACT,
        target_id="m",
        target_seq=2,
    )
    frame = json.loads(frames.chat_frame(event))
    assert (frame["type"], frame["seq"], frame["senderId"]) == ("unreact", 5, "bo")
    assert (frame["payload"]["emoji"], frame["payload"]["messageSeq"]) == ("👍", 2)
    assert "content" not in frame["payload"]


def test_a_message_read_back_shows_its_reactions() -> None:
    message = ChatMessage(id="m", room="r", seq=2, sender_id="al", content="v2", timestamp=1)
    assert "reactions" not in json.loads(frames.chat_frame(message))["payload"]
    reacted = message.model_copy(
        update={"reactions": [Reaction(emoji="👍", count=12, users=["al", "bo"])]}
    )
    payload = json.loads(frames.chat_frame(reacted))["payload"]
    assert payload["reactions"] == [{"emoji": "👍", "count": 12, "users": ["al", "bo"]}]


def test_a_read_frame_names_its_room_and_seq() -> None:
    parsed = frames.parse_client_frame('{"type":"read","payload":{"room":"lobby","seq":7}}')
    assert parsed == frames.ReadFrame(7, "lobby")


@pytest.mark.parametrize("seq", ["-1", "1.5", "true", '"3"', "9223372036854775808", "null"])
def test_a_read_frame_without_a_seq_from_0_to_int64_max_is_refused(seq: str) -> None:
    result = frames.parse_client_frame(f'{{"type":"read","payload":{{"room":"r","seq":{seq}}}}}')
    assert isinstance(result, FrameError)
    assert (result.code, result.ref) == ("invalid_frame", "r")
    assert "payload.seq" in result.message


def test_read_frames_carry_the_unread_count_only_when_given() -> None:
    own = json.loads(frames.read_frame("r", "al", 4, (2, 6)))
    other = json.loads(frames.read_frame("r", "al", 4))
    assert own["payload"] == {"userId": "al", "seq": 4, "unreadCount": 2, "upto": 6}
    assert other["payload"] == {"userId": "al", "seq": 4}
    assert (own["type"], own["room"]) == ("read", "r")
