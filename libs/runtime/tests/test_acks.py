"""Acks written as one command: the bytes nats-py's ``Msg.ack`` writes, its refusals, and the
nats-py internals ``ack_all`` relies on, pinned; against a real JetStream, the acks take."""

import inspect
import secrets

import pytest
from nats import errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig
from switchboard_devstack.polling import until
from switchboard_runtime.patches.natspy_acks import ack_all

WAIT = 5.0


def test_nats_py_acks_through_what_ack_all_uses() -> None:
    """An upgrade of nats-py that changes how an ack is checked, queued or flushed must fail
    here."""
    assert "self._check_reply()" in inspect.getsource(Msg.ack)
    assert "self._client.publish(self.reply)" in inspect.getsource(Msg.ack)
    assert "self._ackd = True" in inspect.getsource(Msg.ack)
    source = inspect.getsource(Client._send_publish)
    for used in ("self._send_command(", "self._flush_queue.empty()", "self._flush_pending()"):
        assert used in source


def _delivered(nc: Client, reply: str) -> Msg:
    return Msg(nc, subject="s", reply=reply, data=b"x")


@pytest.mark.component
async def test_the_commands_are_the_ones_nats_py_writes_joined(
    nc: Client, nc_commands: list[bytes]
) -> None:
    replies = [f"$JS.ACK.S.c.1.{n}.{n}.1700000000.0" for n in (1, 2, 3)]
    for reply in replies:
        await _delivered(nc, reply).ack()
    msgs = [_delivered(nc, reply) for reply in replies]
    await ack_all(nc, msgs)
    assert len(nc_commands) == 4
    assert nc_commands[3] == b"".join(nc_commands[:3])
    assert all(msg.is_acked for msg in msgs)


@pytest.mark.component
async def test_the_refusals_are_msg_ack_s_and_nothing_is_sent_before_them(
    nc: Client, nc_commands: list[bytes]
) -> None:
    acked = _delivered(nc, "$JS.ACK.S.c.1.1.1.1700000000.0")
    await acked.ack()
    nc_commands.clear()
    fresh = _delivered(nc, "$JS.ACK.S.c.1.2.2.1700000000.0")
    with pytest.raises(errors.MsgAlreadyAckdError):
        await ack_all(nc, [fresh, acked])
    with pytest.raises(errors.NotJSMessageError):
        await ack_all(nc, [fresh, _delivered(nc, "")])
    with pytest.raises(errors.BadSubjectError):
        await ack_all(nc, [_delivered(nc, "$JS.ACK.S.c.1\r\nPUB forged 0")])
    assert nc_commands == []
    assert not fresh.is_acked
    await nc.close()
    with pytest.raises(errors.ConnectionClosedError):
        await ack_all(nc, [fresh])


@pytest.mark.component
async def test_a_jetstream_consumer_takes_the_acks(nc: Client) -> None:
    js = nc.jetstream()
    stream, subject = f"ACKS{secrets.token_hex(3)}", f"test.acks.{secrets.token_hex(3)}"
    await js.add_stream(name=stream, subjects=[subject])
    try:
        for n in range(5):
            await js.publish(subject, str(n).encode())
        sub = await js.pull_subscribe(
            subject,
            durable="acks",
            config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, ack_wait=30),
        )
        msgs = await sub.fetch(5, timeout=WAIT)
        await ack_all(nc, msgs[:4])
        await nc.flush()

        async def four_acked() -> bool:
            info = await js.consumer_info(stream, "acks")
            return bool(info.num_ack_pending == 1)

        await until(four_acked, "the four acks taken", timeout=WAIT)
        info = await js.consumer_info(stream, "acks")
        assert info.ack_floor.stream_seq == 4
    finally:
        await js.delete_stream(stream)
