"""Microbenchmark (not collected by pytest): the gateway's CPU per SSE event written, through
ASGI or directly (``SSE_DIRECT_WRITES``), under uvicorn (httptools, uvloop) with the ASGI layers
an event passes in the gateway: ConnectionAbort, AccessMiddleware, ActivityMiddleware, Starlette's
error and exception middleware, CORS, ``transport.connection_metrics`` (not ``EdgeGuard``, which
needs
the gateway's settings; its ``send`` wrapper is one more layer on the ASGI path).

``python3 -m uv run python services/gateway/tests/sse_write_micro.py [streams] [events]``: opens
``streams`` SSE streams read by ``curl`` processes (to /dev/null), then pushes ``events`` events
to every stream the way ``notifications.http_api._follow`` does (each stream's producer woken per
event), and prints the process CPU per event for each mode.
"""

import asyncio
import socket
import sys
import time

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from switchboard_gateway.transport.connection_metrics import ConnectionMetrics
from switchboard_gateway.transport.event_stream import EventStreamResponse, Write
from switchboard_runtime.patches.uvicorn_connection_abort import ConnectionAbort
from switchboard_runtime.service.access import AccessMiddleware
from switchboard_runtime.service.activity import ActivityMiddleware


class Streams:
    def __init__(self, direct: bool) -> None:
        self.direct = direct
        self.waiting: list[asyncio.Future[bytes]] = []
        self.ready = asyncio.Event()
        self.all_waiting = asyncio.Event()
        self.opened = 0
        self.expected = 0
        self.written = 0

    async def stream(self, request: Request) -> Response:
        loop = asyncio.get_running_loop()

        async def produce(write: Write) -> None:
            self.opened += 1
            if self.opened == self.expected:
                self.ready.set()
            while True:
                future: asyncio.Future[bytes] = loop.create_future()
                self.waiting.append(future)
                if len(self.waiting) == self.expected:
                    self.all_waiting.set()
                await write(await future, "notification")
                self.written += 1

        async def close() -> None:
            pass

        return EventStreamResponse(produce, close, 30.0, direct=self.direct)


async def measure(direct: bool, streams: int, events: int) -> float:
    state = Streams(direct)
    state.expected = streams
    app = Starlette(
        routes=[Route("/stream", state.stream)],
        middleware=[Middleware(CORSMiddleware, allow_origins=["*"]), Middleware(ConnectionMetrics)],
    )
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    port = sock.getsockname()[1]
    wrapped = ConnectionAbort(AccessMiddleware(ActivityMiddleware(app)))
    server = uvicorn.Server(
        uvicorn.Config(wrapped, http="httptools", log_config=None, lifespan="off")
    )
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    url = f"http://127.0.0.1:{port}/stream"
    readers = [
        await asyncio.create_subprocess_exec("curl", "-sN", "-o", "/dev/null", url)
        for _ in range(streams)
    ]
    await asyncio.wait_for(state.ready.wait(), 60)
    await asyncio.sleep(0.5)
    body = b'id: 1\nevent: notification\ndata: {"id":"x","title":"' + b"t" * 200 + b'"}\n\n'
    started = time.process_time()
    for _ in range(events):
        waiting, state.waiting = state.waiting, []
        state.all_waiting.clear()
        for future in waiting:
            future.set_result(body)
        await state.all_waiting.wait()
    used = time.process_time() - started
    for reader in readers:
        reader.kill()
        await reader.wait()
    server.should_exit = server.force_exit = True
    await serving
    return used / (streams * events) * 1e6


def main() -> None:
    streams = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    events = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    for direct in (False, True, False, True):
        us = asyncio.run(measure(direct, streams, events))
        print(f"{'direct' if direct else 'asgi  '}: {us:.1f} µs of CPU per event")


if __name__ == "__main__":
    import uvloop

    uvloop.install()
    main()
