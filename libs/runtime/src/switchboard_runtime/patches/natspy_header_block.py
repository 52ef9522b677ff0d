"""Publishing with headers without nats-py's per-key header encoding.

nats-py's ``publish`` builds a message's header block in Python key by key (strip, a regular
expression over the key, encode, translate of the value, five ``bytearray.extend``): about 6 µs
of a 8 µs publish with five headers (``bench/profiles/README-durable-path.md``). The chat and
notification pipelines publish every stored message with five (the trace context, the message
id, the expected subject sequence, the expected stream). ``header_block`` encodes a header
block in one join, checking what nats-py checks (a key is a token of printable characters
without ``:``; values hold no line break, where nats-py would quietly replace them with spaces,
here an error); ``publish_with_header_block`` writes the ``HPUB`` command the way
``Client._send_publish`` does. ``test_header_block`` pins the bytes against nats-py's own and
the internals this relies on.
"""

import re
from collections.abc import Mapping

from nats import errors
from nats.aio.client import Client, _validate_subject

__all__ = ["header_block", "publish_with_header_block", "queue_command", "refuse_unsendable"]

_STATUS_LINE = "NATS/1.0\r\n"
_KEY = re.compile(r"[!-9;-~]+")  # printable ASCII without ':' or a space (nats-py's rule)
_checked_keys: set[str] = set()


def header_block(headers: Mapping[str, str]) -> bytes:
    """The header block of ``headers`` as NATS expects it (``NATS/1.0``, one ``key: value`` line
    each, an empty line). ``ValueError`` for a key that is not a token or a value with a line
    break."""
    for key in headers:
        if key not in _checked_keys:
            if not _KEY.fullmatch(key):
                raise ValueError(f"not a valid header name: {key!r}")
            _checked_keys.add(key)
    text = _STATUS_LINE + "".join([f"{key}: {value}\r\n" for key, value in headers.items()])
    lines = len(headers) + 1
    if text.count("\n") != lines or text.count("\r") != lines:
        raise ValueError("a header value holds a line break")
    return (text + "\r\n").encode()


async def publish_with_header_block(
    nc: Client, subject: str, payload: bytes, *, reply: str, header: bytes
) -> None:
    """``nc.publish(subject, payload, reply=reply, headers=...)`` with the header block encoded
    already (``header_block``); the same refusals and the same flushing."""
    if not nc._skip_subject_validation:
        _validate_subject(subject)
        _validate_subject(reply)
    size = len(payload)
    refuse_unsendable(nc, size)
    if size > nc._max_payload:
        raise errors.MaxPayloadError
    command = b"HPUB %s %s %d %d\r\n%s%s\r\n" % (
        subject.encode(),
        reply.encode(),
        len(header),
        len(header) + size,
        header,
        payload,
    )
    await queue_command(nc, command, messages=1, size=size)


def refuse_unsendable(nc: Client, size: int) -> None:
    """What ``Client.publish`` refuses before it writes ``size`` bytes of payload: a closed or
    draining connection, or one reconnecting whose pending buffer cannot take them."""
    if nc.is_closed:
        raise errors.ConnectionClosedError
    if nc.is_draining_pubs:
        raise errors.ConnectionDrainingError
    if not nc.is_connected and (
        nc._max_pending_size <= 0 or size + nc._pending_data_size > nc._max_pending_size
    ):
        raise errors.OutboundBufferLimitError


async def queue_command(nc: Client, command: bytes, *, messages: int, size: int) -> None:
    """Queue ``command`` (``messages`` publishes, ``size`` payload bytes) and ask for a flush,
    as ``Client._send_publish`` does."""
    nc.stats["out_msgs"] += messages
    nc.stats["out_bytes"] += size
    await nc._send_command(command)
    if nc._flush_queue is not None and nc._flush_queue.empty():
        await nc._flush_pending()
