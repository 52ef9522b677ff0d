"""Header blocks encoded in one go: the bytes nats-py would write, the same refusals, and the
nats-py internals ``publish_with_header_block`` relies on, pinned."""

import asyncio
import inspect
import secrets

import pytest
from nats import errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from switchboard_runtime.patches.natspy_header_block import (
    header_block,
    publish_with_header_block,
)

WAIT = 5.0
HEADERS = {
    "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    "Nats-Msg-Id": "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
    "Nats-Expected-Last-Subject-Sequence": "41",
    "Nats-Expected-Stream": "CHAT",
}


def test_a_line_break_in_a_value_is_refused() -> None:
    for value in ("a\r\nNats-Msg-Id: forged", "a\nb", "a\rb"):
        with pytest.raises(ValueError, match="line break"):
            header_block({"Nats-Msg-Id": value})


def test_a_key_that_is_not_a_token_is_refused() -> None:
    for key in ("", "with space", "colon:", "new\nline"):
        with pytest.raises(ValueError, match="header name"):
            header_block({key: "v"})


def test_nats_py_writes_through_what_the_raw_publish_uses() -> None:
    """``publish_with_header_block`` queues its command as ``_send_publish`` does; an upgrade of
    nats-py that changes how it queues and flushes must fail here."""
    source = inspect.getsource(Client._send_publish)
    for used in ("self._send_command(", "self._flush_queue.empty()", "self._flush_pending()"):
        assert used in source


@pytest.mark.component
async def test_the_command_is_the_one_nats_py_writes(nc: Client, nc_commands: list[bytes]) -> None:
    subject, reply = f"test.hdr.{secrets.token_hex(4)}", "_INBOX.test.7"
    await nc.publish(subject, b'{"body": 1}', reply=reply, headers=HEADERS)
    await publish_with_header_block(
        nc, subject, b'{"body": 1}', reply=reply, header=header_block(HEADERS)
    )
    assert len(nc_commands) == 2
    assert nc_commands[0] == nc_commands[1]


@pytest.mark.component
async def test_a_subscriber_reads_the_headers_and_body(nc: Client) -> None:
    subject = f"test.hdr.{secrets.token_hex(4)}"
    received: asyncio.Future[Msg] = asyncio.get_running_loop().create_future()

    async def on_message(msg: Msg) -> None:
        if not received.done():
            received.set_result(msg)

    await nc.subscribe(subject, cb=on_message)
    await nc.flush()
    await publish_with_header_block(
        nc, subject, b"payload", reply="_INBOX.test.1", header=header_block(HEADERS)
    )
    msg = await asyncio.wait_for(received, WAIT)
    assert msg.data == b"payload"
    assert msg.reply == "_INBOX.test.1"
    assert msg.headers == HEADERS


@pytest.mark.component
async def test_refusals_are_nats_py_s(nc: Client) -> None:
    header = header_block(HEADERS)
    with pytest.raises(errors.BadSubjectError):
        await publish_with_header_block(nc, "a subject", b"", reply="r", header=header)
    with pytest.raises(errors.MaxPayloadError):
        await publish_with_header_block(
            nc, "test.big", b"x" * (nc.max_payload + 1), reply="r", header=header
        )
    await nc.close()
    with pytest.raises(errors.ConnectionClosedError):
        await publish_with_header_block(nc, "test.closed", b"", reply="r", header=header)
