"""What a JetStream delivery's ack subject says about it, read straight from the subject.

nats-py's ``Msg.metadata`` parses the same subject into a ``Metadata`` with a timestamp and
three more objects. Persistence reads two numbers of it per message (how often it was delivered,
where the stream stored it), and building the rest was 17% of its samples at 4,000 chat
messages/s (py-spy over the write path, bench/profiles/README-durable-path.md).

``$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time>.<pending>``, or
with ``<domain>.<account hash>`` after ``ACK`` (and a trailing token) in the newer form.
"""

from switchboard_contracts.subjects import JS_ACK_PREFIX

__all__ = ["delivery_count", "stream_sequence"]

_V1_TOKENS = 9
_DELIVERED = 4
"""The delivery count's index in the older form; every later field follows it."""
_NEWER_FORM_SHIFT = 2
_STREAM_SEQUENCE = 1
"""After the delivery count."""


def _number(reply: str | None, after_delivered: int) -> int:
    """The number ``after_delivered`` tokens after the delivery count; 0 when ``reply`` is not
    a JetStream ack subject or that token is not a number."""
    if not reply or not reply.startswith(JS_ACK_PREFIX):
        return 0
    tokens = reply.split(".")
    index = _DELIVERED + after_delivered
    if len(tokens) != _V1_TOKENS:
        index += _NEWER_FORM_SHIFT
    try:
        return int(tokens[index])
    except (IndexError, ValueError):
        return 0


def delivery_count(reply: str | None) -> int:
    """How often JetStream has delivered the message with this ack subject (0: not a
    JetStream message)."""
    return _number(reply, 0)


def stream_sequence(reply: str | None) -> int:
    """Where the stream stored the message with this ack subject (0: not a JetStream
    message)."""
    return _number(reply, _STREAM_SEQUENCE)
