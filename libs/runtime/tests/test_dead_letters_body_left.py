"""A message too large to be stored again with the dead-letter headers never holds its consumer:
the letter is kept without its body, which a replay reads from the origin stream. Real NATS."""

import secrets

import pytest
from nats.aio.client import Client
from nats.js.api import StreamConfig
from switchboard_contracts import streams
from switchboard_contracts.dead_letters import (
    BODY_LEFT_HEADER,
    SEQUENCE_HEADER,
    DeadLetterKind,
    DeadLetterOrigin,
)
from switchboard_runtime.messaging.dead_letters import DeadLetters

pytestmark = pytest.mark.component


async def test_an_original_too_large_for_its_letter_is_kept_by_reference_and_replayed(
    nc: Client,
) -> None:
    js = nc.jetstream()
    name = f"BIG{secrets.token_hex(4).upper()}"
    subject = f"big.{name.lower()}"
    await js.add_stream(StreamConfig(name=name, subjects=[subject]))
    try:
        body = b"x" * (nc.max_payload - 100)  # fits alone, not with a dead letter's headers
        original = await js.publish(subject, body, stream=name)
        origin = DeadLetterOrigin(
            stream=name, subject=subject, sequence=original.seq, consumer="test", attempts=3
        )
        letters = DeadLetters(js)
        sequence = await letters.store(
            body, {"traceparent": "x"}, origin, DeadLetterKind.REJECTED, "refused"
        )
        letter = await js.get_msg(streams.DEAD_LETTERS.name, seq=sequence)
        assert not letter.data
        assert (letter.headers or {})[BODY_LEFT_HEADER] == str(len(body))

        seen: list[bytes] = []

        async def process(data: bytes, headers: dict[str, str]) -> None:
            # the original's headers, and where its stream stored it
            assert headers == {"traceparent": "x", SEQUENCE_HEADER: str(original.seq)}
            seen.append(data)

        reply = await letters.replay(name, sequence, process)
        assert reply.replayed
        assert seen == [body]
    finally:
        await js.delete_stream(name)
