"""How often a JetStream message was delivered, and where the stream stored it, read from its
ack subject."""

import pytest
from nats.aio.msg import Msg
from switchboard_runtime.messaging.ack_subject import delivery_count, stream_sequence


@pytest.mark.parametrize(
    ("reply", "count", "sequence"),
    [
        ("$JS.ACK.CHAT.persistence-chat.1.42.40.1732000000000000000.7", 1, 42),
        ("$JS.ACK.CHAT.persistence-chat.3.4242.40.1732000000000000000.0", 3, 4242),
        ("$JS.ACK.hub.ACCHASH.CHAT.persistence-chat.2.42.40.1732000000000000000.0.r4nd", 2, 42),
        ("_INBOX.abc.def", 0, 0),
        (None, 0, 0),
        ("$JS.ACK.broken", 0, 0),
        ("$JS.ACK.CHAT.persistence-chat.x.y.40.1732000000000000000.7", 0, 0),
    ],
)
def test_the_delivery_count_and_stream_sequence_are_read_from_the_ack_subject(
    reply: str | None, count: int, sequence: int
) -> None:
    assert delivery_count(reply) == count
    assert stream_sequence(reply) == sequence


def test_they_agree_with_nats_py_s_own_reading() -> None:
    reply = "$JS.ACK.CHAT.persistence-chat.5.977.901.1732000000000000000.3"
    metadata = Msg(_client=None, subject="chat.room.r", reply=reply).metadata  # type: ignore[arg-type]
    assert stream_sequence(reply) == metadata.sequence.stream
    assert delivery_count(reply) == metadata.num_delivered
