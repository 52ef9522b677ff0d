"""Graceful drain: on SIGTERM the gateway turns unready at once, closes its WebSockets with 1012
in paced, jittered batches within half of SHUTDOWN_TIMEOUT_SECONDS, tells each client when to
reconnect, ends its SSE streams with a `retry:` delay, and exits within its bound."""

import asyncio
import signal
import time
from collections.abc import Callable

import httpx
import pytest
from switchboard_devstack import Stack
from switchboard_devstack.sseclient import EventClient
from switchboard_devstack.wsclient import FrameClient

pytestmark = pytest.mark.e2e

SHUTDOWN_SECONDS = 6.0  # the drain window is half of it
CONNECTIONS = 12
BATCH = 3
RECONNECT_MAX_MS = 2000


async def closed_at(client: FrameClient, began: float) -> float:
    await client.closed.wait()
    return time.monotonic() - began


async def test_sigterm_drains_in_paced_batches_within_the_bound(
    make_stack: Callable[..., Stack],
) -> None:
    """The close moments, codes and reasons of a dozen WebSockets and one SSE stream."""
    stack = make_stack()
    stack.add("persistence")
    stack.add("chat")
    stack.add("notification")
    gateway = stack.add(
        "gateway",
        env={
            "SHUTDOWN_TIMEOUT_SECONDS": str(SHUTDOWN_SECONDS),
            "DRAIN_BATCH_SIZE": str(BATCH),
            "DRAIN_RECONNECT_MAX_MS": str(RECONNECT_MAX_MS),
        },
    )
    stack.start()
    sockets = [
        FrameClient(f"{gateway.ws_url}/chat/drain-room?userId=u{n}") for n in range(CONNECTIONS)
    ]
    for socket in sockets:
        await socket.__aenter__()
        await socket.wait_for("presence")
    async with EventClient(f"{gateway.url}/api/notifications/stream?userId=sse-1") as stream:
        await stream.wait_for("ready")
        began = time.monotonic()
        gateway.process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(2), httpx.AsyncClient() as http:
            while (await http.get(f"{gateway.url}/readyz")).status_code == 200:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        unready_after = time.monotonic() - began
        moments = await asyncio.wait_for(
            asyncio.gather(*(closed_at(s, began) for s in sockets)), timeout=SHUTDOWN_SECONDS
        )
        async with asyncio.timeout(SHUTDOWN_SECONDS):
            await stream.closed.wait()
    exit_code = await asyncio.to_thread(gateway.process.wait, SHUTDOWN_SECONDS + 5)
    exited_after = time.monotonic() - began

    assert unready_after < 2.0
    assert {s.ws.close_code for s in sockets} == {1012}
    delays = [int((s.ws.close_reason or "").split("reconnect in ")[1].split()[0]) for s in sockets]
    assert all(0 <= d <= RECONNECT_MAX_MS for d in delays)
    assert len(set(delays)) > 1, "reconnect delays are jittered"
    assert max(moments) <= SHUTDOWN_SECONDS / 2 + 1.0, "all closed within the drain window"
    assert max(moments) - min(moments) > SHUTDOWN_SECONDS / 8, "closes are spread, not at once"
    retries = [e.retry for e in stream.events if e.retry is not None]
    assert len(retries) == 2, "the stream ends with a retry: delay after the opening one"
    assert 1 <= retries[-1] <= RECONNECT_MAX_MS
    assert exit_code in {0, -signal.SIGTERM}  # uvicorn re-raises the signal once it is done
    assert exited_after < SHUTDOWN_SECONDS + 2
