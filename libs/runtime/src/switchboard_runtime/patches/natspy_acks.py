"""JetStream acks of many messages written as one command.

``Msg.ack`` sends an empty message to the message's reply subject through nats-py's
``publish``: its checks, a ``PUB`` command of its own, a flush request, an ``await`` each.
Persistence acks every message of a batch it has committed, up to thousands at once, and the
acks were a tenth of its CPU at 1,500 chat messages/s (bench/profiles/README-durable-path.md).
``ack_all`` makes the same checks, writes the same ``PUB`` commands joined into one, queues
them with one ``_send_command`` and one flush, and marks each message acked as ``Msg.ack``
does. ``test_acks`` pins the bytes against nats-py's and the internals this relies on.
"""

from collections.abc import Sequence

from nats.aio.client import Client, _validate_subject
from nats.aio.msg import Msg

from switchboard_runtime.patches.natspy_header_block import queue_command, refuse_unsendable

__all__ = ["ack_all"]


async def ack_all(nc: Client, msgs: Sequence[Msg]) -> None:
    """``await msg.ack()`` for each of ``msgs`` (JetStream messages delivered on ``nc``), in
    their order, as one write; the same refusals, raised before anything is sent."""
    if not msgs:
        return
    for msg in msgs:
        msg._check_reply()  # not a JetStream message, or acked already
        if not nc._skip_subject_validation:
            _validate_subject(msg.reply)
    refuse_unsendable(nc, 0)
    command = b"".join([b"PUB %s  0\r\n\r\n" % msg.reply.encode() for msg in msgs])
    await queue_command(nc, command, messages=len(msgs), size=0)
    for msg in msgs:
        msg._ackd = True
