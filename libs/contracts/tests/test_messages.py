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
from switchboard_contracts.chat import LastSeqReply, LastSeqRequest

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

SAMPLES: list[BusMessage] = [
    ChatSendRequest(room="lobby", user_id="alice", content="hi", client_msg_id="c-1"),
    MESSAGE,
    ChatSendReply(message=MESSAGE),
    ChatSendReply(error=BusError(code=ErrorCode.CONTENT_TOO_LONG, message="too long")),
    HistoryRequest(room="lobby", before=10, limit=20),
    HistoryReply(messages=[MESSAGE], has_more=True),
    LastSeqRequest(room="lobby"),
    LastSeqReply(seq=3),
    ServiceReport(service="gateway", instance="gw-1", timestamp=1, active_connections=2),
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
