"""Microbenchmark (not collected by pytest): the gateway's CPU per delivered WebSocket frame on
a room's fan-out, user and kernel time apart (issue 19's frame-cost target is user space).

``.venv/bin/python services/gateway/tests/fanout_write_micro.py [members] [messages]``: a room
of ``members`` direct outboxes (``transport.direct_outbox``) on uvloop transports over real
socket pairs, read by a child process on another core; ``messages`` chat messages go through
the hub's own ``RoomHub._deliver``, one per loop turn as at a moderate rate, each flushed by the
``FrameWriter``. Prints this process's user and system CPU per frame, the least and the median of
``ROUNDS`` rounds (the least is the one other work on the machine disturbed least).
"""

import asyncio
import contextlib
import os
import resource
import selectors
import signal
import socket
import statistics
import sys
from dataclasses import dataclass, field
from typing import Any

import uvloop
from switchboard_contracts.chat import ChatMessage
from switchboard_gateway.chat.ordering import RoomOrder
from switchboard_gateway.chat.room_hub import Member, RoomHub, _Room
from switchboard_gateway.transport.direct_outbox import DirectOutbox, FrameWriter
from switchboard_runtime.patches.light_event import LightEvent

ROUNDS = 9


@dataclass
class _Protocol:
    """What ``DirectOutbox`` reads of uvicorn's sans-I/O protocol."""

    transport: asyncio.Transport
    writable: LightEvent = field(default_factory=LightEvent)


def _drain(socks: list[socket.socket]) -> None:
    selector = selectors.DefaultSelector()
    for sock in socks:
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
    while True:
        for key, _ in selector.select(1.0):
            with contextlib.suppress(BlockingIOError):
                key.fileobj.recv(1 << 16)  # type: ignore[union-attr]


async def main(ours: list[socket.socket], messages: int) -> None:
    loop = asyncio.get_running_loop()
    writer = FrameWriter()
    state = _Room("bench", order=RoomOrder(0))
    for index, sock in enumerate(ours):
        transport, _ = await loop.connect_accepted_socket(asyncio.Protocol, sock)
        outbox: Any = DirectOutbox(
            None,  # type: ignore[arg-type]
            _Protocol(transport),  # type: ignore[arg-type]
            writer,
            max_frames=100,
            max_bytes=1 << 20,
        )
        state.add(Member(str(index), f"u{index}", outbox))
    content = "x" * 60
    users: list[float] = []
    kernels: list[float] = []
    for _ in range(ROUNDS):
        before = resource.getrusage(resource.RUSAGE_SELF)
        for _ in range(messages):
            seq = state.order.last + 1  # type: ignore[union-attr]
            message = ChatMessage(
                id=f"m{seq}",
                room="bench",
                seq=seq,
                sender_id="u0",
                content=content,
                timestamp=1_700_000_000_000,
            )
            RoomHub._deliver(None, state, message)  # type: ignore[arg-type]
            await asyncio.sleep(0)  # the writer's flush runs
            await asyncio.sleep(0)
        after = resource.getrusage(resource.RUSAGE_SELF)
        frames = messages * len(ours)
        users.append((after.ru_utime - before.ru_utime) / frames * 1e6)
        kernels.append((after.ru_stime - before.ru_stime) / frames * 1e6)
    print(
        f"{ROUNDS} x {messages} messages x {len(ours)} members, µs per frame: "
        f"user min {min(users):.2f} median {statistics.median(users):.2f}, "
        f"kernel min {min(kernels):.2f} median {statistics.median(kernels):.2f}"
    )


def run(members: int, messages: int) -> None:
    pairs = [socket.socketpair() for _ in range(members)]
    cores = sorted(os.sched_getaffinity(0))
    reader = os.fork()
    if reader == 0:
        os.sched_setaffinity(0, {cores[-1]})
        for ours, _ in pairs:
            ours.close()
        _drain([theirs for _, theirs in pairs])
    os.sched_setaffinity(0, {cores[0]})
    for _, theirs in pairs:
        theirs.close()
    try:
        uvloop.run(main([ours for ours, _ in pairs], messages))
    finally:
        os.kill(reader, signal.SIGTERM)
        os.waitpid(reader, 0)


if __name__ == "__main__":
    run(*[int(arg) for arg in sys.argv[1:]] or [1000, 500])
