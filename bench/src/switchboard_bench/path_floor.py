"""The durable chat path's messages with bare clients: what the hops cost without our services.

The ``path_floor`` scenario (``scenarios/path_floor.py``) runs three processes of this module
against one NATS server, each doing only the bus work of one hop of the real path, with nothing
of the services' own (no validation, sanitising, models, metrics, traces, PostgreSQL):

- ``sender`` (the gateway's bus side): every millisecond, one request carrying the messages due
  at ``--rate`` to ``chat``; it counts the replies and, on a subscription to the rooms'
  republished subjects (``chat.live.>``), every stored copy, checking each room's ``seq``.
- ``chat``: gathers the requests of ``--interval`` (chat's send-batch interval), publishes each
  message to JetStream with the headers chat sends (``traceparent``, ``Nats-Msg-Id``,
  ``Nats-Expected-Last-Subject-Sequence``, ``Nats-Expected-Stream``), pipelined one round per
  room at a time, waits for the acks and replies to each request with its messages' ``seq``.
- ``persistence``: every 50 ms (persistence's batch delay), pulls what a durable consumer of the
  ``CHAT`` stream holds and acks each message after decoding it (no PostgreSQL: its floor is the
  bulk scenario's).

NATS's CPU over this flow is what the path's message exchanges cost the server at a live rate;
the three processes' CPU is the least Python spends on the same exchanges. Each prints one JSON
line when it is ready and one with its counts when it gets SIGTERM (the sender when it is done).

``python -m switchboard_bench.path_floor ROLE NATS_URL [--rate N --seconds S --rooms R]``
"""

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import time
import uuid
from dataclasses import dataclass, field

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from switchboard_contracts import streams, subjects
from switchboard_runtime.patches.natspy_header_block import (
    header_block,
    publish_with_header_block,
)

__all__ = ["CONSUMER", "SEND_SUBJECT", "main"]

SEND_SUBJECT = "floor.send"
CONSUMER = "floor-persistence"
PULL_BATCH = 1000
PERSIST_INTERVAL_SECONDS = 0.05
CONTENT = "a chat message of typical length, with a few words and nothing special in it" * 2


_Draft = tuple[int, int, dict[str, str]]
"""A message of a request: (request index, index in it, the message)."""


def _say(line: dict[str, object]) -> None:
    print(json.dumps(line), flush=True)


async def _until_terminated() -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()


@dataclass
class _Head:
    seq: int = 0
    """The room's last message's ``seq``."""
    stream_seq: int = 0
    """Its sequence in the stream (``Nats-Expected-Last-Subject-Sequence``)."""


@dataclass
class _Chat:
    nc: Client
    interval: float
    prefix: str = field(default_factory=lambda: f"_FLOOR_ACK.{uuid.uuid4().hex}.")
    heads: dict[str, _Head] = field(default_factory=dict)
    pending: list[Msg] = field(default_factory=list)
    acks: dict[str, "asyncio.Future[int]"] = field(default_factory=dict)
    sent: int = 0
    stored: int = 0
    refused: int = 0
    flushing: bool = False

    async def start(self) -> None:
        await self.nc.subscribe(self.prefix + "*", cb=self._ack)
        await self.nc.subscribe(SEND_SUBJECT, cb=self._request)

    async def _ack(self, msg: Msg) -> None:
        future = self.acks.pop(msg.subject[len(self.prefix) :], None)
        if future is None or future.done():
            return
        reply = json.loads(msg.data)
        if "seq" in reply:
            future.set_result(int(reply["seq"]))
        else:
            future.set_exception(RuntimeError(str(reply.get("error"))))

    async def _request(self, msg: Msg) -> None:
        self.pending.append(msg)
        if not self.flushing:
            self.flushing = True
            asyncio.get_running_loop().call_later(self.interval, self._flush)

    def _flush(self) -> None:
        requests, self.pending = self.pending, []
        task = asyncio.get_running_loop().create_task(self._store(requests))
        task.add_done_callback(lambda _: self._flushed())

    def _flushed(self) -> None:
        self.flushing = False
        if self.pending:
            self.flushing = True
            asyncio.get_running_loop().call_later(self.interval, self._flush)

    async def _store(self, requests: list[Msg]) -> None:
        bodies: list[list[dict[str, str]]] = [json.loads(request.data) for request in requests]
        drafts: list[_Draft] = [
            (i, j, m) for i, body in enumerate(bodies) for j, m in enumerate(body)
        ]
        seqs: list[list[int]] = [[0] * len(body) for body in bodies]
        while drafts:
            round_: list[_Draft] = []
            rest: list[_Draft] = []
            rooms: set[str] = set()
            for draft in drafts:
                (rest if draft[2]["room"] in rooms else round_).append(draft)
                rooms.add(draft[2]["room"])
            drafts = rest
            futures = [await self._publish(message) for _, _, message in round_]
            for (i, j, message), future in zip(round_, futures, strict=True):
                head = self.heads[message["room"]]
                try:
                    stream_seq = await future
                except RuntimeError:
                    self.refused += 1
                    continue
                head.seq += 1
                head.stream_seq = stream_seq
                seqs[i][j] = head.seq
                self.stored += 1
        for request, answer in zip(requests, seqs, strict=True):
            await self.nc.publish(request.reply, json.dumps(answer).encode())

    async def _publish(self, message: dict[str, str]) -> "asyncio.Future[int]":
        room = message["room"]
        head = self.heads.setdefault(room, _Head())
        stored = {
            "id": str(uuid.uuid4()),
            "room": room,
            "seq": head.seq + 1,
            "senderId": message["senderId"],
            "clientMsgId": message["clientMsgId"],
            "content": message["content"],
            "timestamp": int(time.time() * 1000),
        }
        self.sent += 1
        token = str(self.sent)
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.acks[token] = future
        header = header_block(
            {
                "traceparent": message["traceparent"],
                "Nats-Msg-Id": message["clientMsgId"],
                "Nats-Expected-Last-Subject-Sequence": str(head.stream_seq),
                "Nats-Expected-Stream": streams.CHAT.name,
            }
        )
        await publish_with_header_block(
            self.nc,
            subjects.chat_room(room),
            json.dumps(stored).encode(),
            reply=self.prefix + token,
            header=header,
        )
        return future


async def _chat(url: str, interval: float) -> None:
    nc = await nats.connect(url, max_reconnect_attempts=0)
    chat = _Chat(nc, interval)
    await chat.start()
    _say({"ready": "chat"})
    await _until_terminated()
    _say({"sent": chat.sent, "stored": chat.stored, "refused": chat.refused})
    await nc.close()


async def _persistence(url: str, interval: float) -> None:
    """Every ``interval`` (persistence's batch delay), a ``no_wait`` pull of what is there;
    each message decoded and acked as it arrives, the pull's end told by its status."""
    nc = await nats.connect(url, max_reconnect_attempts=0)
    inbox = nc.new_inbox()
    ended = asyncio.Event()
    acked = 0

    async def arrived(msg: Msg) -> None:
        nonlocal acked
        if not msg.data and msg.headers and "Status" in msg.headers:
            ended.set()  # 404: nothing more now
            return
        json.loads(msg.data)
        await nc.publish(msg.reply, b"+ACK")
        acked += 1

    await nc.subscribe(inbox, cb=arrived)
    next_subject = subjects.js_consumer_next(streams.CHAT.name, CONSUMER)
    request = json.dumps({"batch": PULL_BATCH, "no_wait": True}).encode()
    stop = asyncio.get_running_loop().create_task(_until_terminated())
    _say({"ready": "persistence"})
    while not stop.done():
        await asyncio.sleep(interval)
        ended.clear()
        await nc.publish(next_subject, request, reply=inbox)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ended.wait(), 1.0)
    _say({"acked": acked})
    await nc.close()


@dataclass
class _Sent:
    requests: int = 0
    messages: int = 0
    replies: int = 0
    stored: int = 0
    refused: int = 0
    copies: int = 0
    out_of_order: int = 0
    last_seq: dict[str, int] = field(default_factory=dict)
    all_copies: asyncio.Event = field(default_factory=asyncio.Event)
    """Set whenever the copies received reach the messages stored so far."""


async def _sender(url: str, rate: float, seconds: float, rooms: int) -> None:
    nc = await nats.connect(url, max_reconnect_attempts=0)
    sent = _Sent()

    async def copy(msg: Msg) -> None:
        stored = json.loads(msg.data)
        room, seq = stored["room"], int(stored["seq"])
        if seq != sent.last_seq.get(room, 0) + 1:
            sent.out_of_order += 1
        sent.last_seq[room] = seq
        sent.copies += 1
        if sent.copies >= sent.stored:
            sent.all_copies.set()

    await nc.subscribe(subjects.CHAT_LIVE_ALL, cb=copy)
    _say({"ready": "sender"})
    loop = asyncio.get_running_loop()
    replies: set[asyncio.Task[None]] = set()

    async def ask(messages: list[dict[str, str]]) -> None:
        reply = await nc.request(SEND_SUBJECT, json.dumps(messages).encode(), timeout=10)
        seqs = json.loads(reply.data)
        sent.replies += 1
        sent.stored += sum(1 for seq in seqs if seq)
        if sent.copies < sent.stored:
            sent.all_copies.clear()
        sent.refused += sum(1 for seq in seqs if not seq)

    started = loop.time()
    while (now := loop.time()) - started < seconds:
        due = int((now - started) * rate) - sent.messages
        if due > 0:
            messages = []
            for _ in range(due):
                n = sent.messages
                messages.append(
                    {
                        "room": f"room-{n % rooms}",
                        "senderId": f"user-{n % (rooms * 10)}",
                        "clientMsgId": f"c-{n}-{uuid.uuid4().hex[:8]}",
                        "content": CONTENT,
                        "traceparent": f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-00",
                    }
                )
                sent.messages += 1
            sent.requests += 1
            task = loop.create_task(ask(messages))
            replies.add(task)
            task.add_done_callback(replies.discard)
        await asyncio.sleep(0.001)
    if replies:
        await asyncio.wait(replies, timeout=10)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(sent.all_copies.wait(), 10)
    _say(
        {
            "requests": sent.requests,
            "messages": sent.messages,
            "replies": sent.replies,
            "stored": sent.stored,
            "refused": sent.refused,
            "copies": sent.copies,
            "out_of_order": sent.out_of_order,
        }
    )
    await nc.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m switchboard_bench.path_floor")
    parser.add_argument("role", choices=["sender", "chat", "persistence"])
    parser.add_argument("nats_url")
    parser.add_argument("--rate", type=float, default=2000.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rooms", type=int, default=100)
    parser.add_argument("--interval", type=float, default=0.003)
    args = parser.parse_args(argv)
    if args.role == "sender":
        asyncio.run(_sender(args.nats_url, args.rate, args.seconds, args.rooms))
    elif args.role == "chat":
        asyncio.run(_chat(args.nats_url, args.interval))
    else:
        asyncio.run(_persistence(args.nats_url, PERSIST_INTERVAL_SECONDS))


if __name__ == "__main__":
    main(sys.argv[1:])
