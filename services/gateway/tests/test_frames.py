import json

import pytest
from switchboard_contracts import ChatMessage
from switchboard_gateway import frames
from switchboard_gateway.frames import ChatFrame, FrameError, PingFrame


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
