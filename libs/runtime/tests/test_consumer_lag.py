"""How often a JetStream message was delivered, read from its ack subject."""

import pytest
from switchboard_runtime.messaging.consumer_lag import delivery_count


@pytest.mark.parametrize(
    ("reply", "count"),
    [
        ("$JS.ACK.CHAT.persistence-chat.1.42.40.1732000000000000000.7", 1),
        ("$JS.ACK.CHAT.persistence-chat.3.42.40.1732000000000000000.0", 3),
        ("$JS.ACK.hub.ACCHASH.CHAT.persistence-chat.2.42.40.1732000000000000000.0.r4nd", 2),
        ("_INBOX.abc.def", 0),
        (None, 0),
        ("$JS.ACK.broken", 0),
    ],
)
def test_the_delivery_count_is_read_from_the_ack_subject(reply: str | None, count: int) -> None:
    assert delivery_count(reply) == count
