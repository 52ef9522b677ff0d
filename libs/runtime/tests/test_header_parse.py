"""Header blocks parsed with names resolved once: the dictionary nats-py makes, for every shape
of line nats-py accepts or drops, on the nats-py internals the client relies on, and against a
real server (headers, and the status lines JetStream and requests answer with)."""

import asyncio
import inspect
import secrets
from collections.abc import Awaitable, Callable

import nats
import pytest
from nats import errors
from nats.aio import client as natspy_client
from nats.aio.client import Client
from nats.aio.msg import Msg
from switchboard_devstack.stores import Stores
from switchboard_runtime.patches import natspy_header_parse
from switchboard_runtime.patches.natspy_header_parse import (
    MAX_NAMES,
    CachedHeaderClient,
    parse_header_lines,
)

WAIT = 5.0
STORED = (
    b"traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n"
    b"Nats-Msg-Id: 1b4e28ba-2fa1-11d2-883f-0016d3cca427\r\n"
    b"Nats-Expected-Last-Subject-Sequence: 41\r\n"
    b"Nats-Expected-Stream: CHAT\r\n"
    b"Nats-Stream: CHAT\r\n"
    b"Nats-Subject: chat.room.lobby\r\n"
    b"Nats-Sequence: 42\r\n"
    b"Nats-Time-Stamp: 2026-12-07T12:24:57.381164513Z\r\n"
    b"Nats-Last-Sequence: 40\r\n\r\n"
)
ODD = [
    b"Name:Value\r\n",  # no space after the colon
    b"Name:\tValue \r\n",  # a tab, trailing space
    b" Padded : v\r\n",  # spaces around the name
    b"With Space: dropped\r\n",  # whitespace inside a name: nats-py drops the line
    b"Sep\x1fArated: dropped\r\n",  # a control character str.isspace() counts
    "N\u00e4me: dropped\r\n".encode(),  # a name that is not ASCII: dropped
    b"Value: caf\xc3\xa9 \xff\r\n",  # UTF-8, and a byte that is not: U+FFFD
    b": no name\r\n",  # an empty name is kept, as nats-py keeps it
    b"no colon at all\r\n",
    b"Empty:\r\n",
    b"Twice: first\r\nTwice: second\r\n",  # the last one wins
    b"Colons: a:b:c\r\n",
    b"\r\n\r\n",
]


def test_a_stored_message_s_headers_are_the_dictionary_nats_py_makes() -> None:
    assert parse_header_lines(STORED) == Client._parse_header_lines(STORED)
    assert parse_header_lines(STORED) == Client._parse_header_lines(STORED)  # names now known


@pytest.mark.parametrize("line", ODD)
def test_every_shape_of_line_gives_what_nats_py_gives(line: bytes) -> None:
    for _ in range(2):  # the first time resolves the name, the second reads it back
        assert parse_header_lines(line + STORED) == Client._parse_header_lines(line + STORED)


def test_names_remembered_are_bounded_and_names_beyond_still_parse() -> None:
    for n in range(MAX_NAMES + 50):
        block = f"X-Name-{n}: {n}\r\n".encode()
        assert parse_header_lines(block) == {f"X-Name-{n}": str(n)}
    assert len(natspy_header_parse._names) <= MAX_NAMES


def test_nats_py_parses_every_header_block_through_the_overridden_method() -> None:
    """An upgrade of nats-py that parses headers elsewhere (or with ``fast_mail_parser``, when
    installed) must fail here: the override would then be silently bypassed."""
    source = inspect.getsource(Client._process_headers)
    assert "self._parse_header_lines(raw_headers)" in source
    assert "self._parse_header_lines(desc[" in source
    assert getattr(natspy_client, "parse_email") is None  # noqa: B009 (not in nats-py's __all__)
    assert CachedHeaderClient._parse_header_lines is parse_header_lines


@pytest.mark.component
async def test_a_subscriber_reads_what_a_plain_nats_py_client_reads(stores: Stores) -> None:
    plain = await nats.connect(stores.nats_url)
    cached = CachedHeaderClient()
    await cached.connect(stores.nats_url)
    try:
        subject = f"t.{secrets.token_hex(4)}"
        got: dict[str, asyncio.Future[Msg]] = {
            "plain": asyncio.get_running_loop().create_future(),
            "cached": asyncio.get_running_loop().create_future(),
        }
        for name, nc in (("plain", plain), ("cached", cached)):
            await nc.subscribe(subject, cb=_resolving(got[name]))
        await cached.flush()
        headers = Client._parse_header_lines(STORED + ODD[6])
        await plain.publish(subject, b"body", headers=headers)
        received = {name: await asyncio.wait_for(f, WAIT) for name, f in got.items()}
        assert received["cached"].headers == received["plain"].headers == headers
        assert received["cached"].data == b"body"
        # Status lines: "no responders" still raises as nats-py's own client raises it.
        with pytest.raises(errors.NoRespondersError):
            await cached.request(f"nobody.{secrets.token_hex(4)}", b"", timeout=WAIT)
    finally:
        await plain.close()
        await cached.close()


def _resolving(future: "asyncio.Future[Msg]") -> Callable[[Msg], Awaitable[None]]:
    async def resolve(msg: Msg) -> None:
        if not future.done():
            future.set_result(msg)

    return resolve
