"""The drain closes what is open with 1012 in paced batches and refuses late arrivals at once."""

import asyncio
import time

from switchboard_gateway.edge.drain import (
    Drain,
    SocketDrainable,
    StreamDrainable,
)
from switchboard_protocol import CloseCode, format_hint


class FakeSocket:
    """An outbox whose close frame is written when ``written`` is set."""

    def __init__(self) -> None:
        self.closed: list[tuple[int, str, float]] = []
        self.written = asyncio.Event()
        self.written.set()
        self.told = asyncio.Event()

    def close(self, code: int, reason: str = "") -> None:
        self.closed.append((code, reason, time.monotonic()))
        self.told.set()

    async def stop(self) -> None:
        await self.written.wait()


class FakeConnection(SocketDrainable):
    def __init__(self) -> None:
        self.socket = FakeSocket()
        super().__init__(self.socket)

    @property
    def closed(self) -> list[tuple[int, str, float]]:
        return self.socket.closed


def lowest(low: float, _high: float) -> float:
    return low


async def test_open_connections_close_in_batches_spread_over_the_window() -> None:
    drain = Drain(window_seconds=0.6, batch_size=2, max_reconnect_ms=500, rand=lowest)
    connections = [FakeConnection() for _ in range(6)]
    for connection in connections:
        drain.track(connection)
    began = time.monotonic()
    await drain.run()
    moments = sorted(c.closed[0][2] - began for c in connections)
    assert all(c.closed[0][:2] == (CloseCode.SERVICE_RESTART, format_hint(0)) for c in connections)
    assert moments[1] < 0.1  # the first batch at once
    assert 0.15 < moments[2] < 0.35  # the second a slot later
    assert 0.35 < moments[4] < 0.6
    assert drain.done.is_set()


async def test_a_connection_gone_before_its_turn_is_not_closed_again() -> None:
    drain = Drain(window_seconds=0.2, batch_size=1, max_reconnect_ms=0, rand=lowest)
    stays, leaves = FakeConnection(), FakeConnection()
    drain.track(stays)
    drain.track(leaves)
    drain.untrack(leaves)
    await drain.run()
    assert len(stays.closed) == 1
    assert leaves.closed == []


async def test_a_connection_arriving_during_the_drain_is_closed_at_once() -> None:
    drain = Drain(window_seconds=1.0, batch_size=1, max_reconnect_ms=1000, rand=lowest)
    drain.track(FakeConnection())
    running = asyncio.create_task(drain.run())
    await asyncio.sleep(0)
    late = FakeConnection()
    drain.track(late)
    assert [c[:2] for c in late.closed] == [(1012, format_hint(0))]
    await running
    await drain.run()  # a second request waits for the same drain
    assert drain.open_count == 1


async def test_a_stream_is_told_its_reconnect_delay_and_ended() -> None:
    drain = Drain(window_seconds=0.1, batch_size=10, max_reconnect_ms=800, rand=lambda _l, h: h)
    stream = StreamDrainable()
    drain.track(stream)
    await drain.run()
    assert stream.ended.is_set()
    assert stream.reconnect_ms == 800


async def test_the_drain_returns_only_once_the_last_close_is_written() -> None:
    """The server's shutdown waits for ``run``; a close still on its way when it returned was
    overtaken by the server's own 1012, without the reconnect hint."""
    drain = Drain(window_seconds=0.1, batch_size=1, max_reconnect_ms=0, rand=lowest)
    slow = FakeConnection()
    slow.socket.written.clear()
    drain.track(slow)
    running = asyncio.create_task(drain.run())
    async with asyncio.timeout(1):
        await slow.socket.told.wait()
    finished, _ = await asyncio.wait({running}, timeout=0.05)
    assert not finished  # told, but its close is not written yet
    slow.socket.written.set()
    async with asyncio.timeout(1):
        await running
    assert drain.done.is_set()
