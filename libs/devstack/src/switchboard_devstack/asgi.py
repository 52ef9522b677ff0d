"""An ASGI app served by uvicorn inside the test's event loop, for tests of the HTTP and WebSocket
protocols the services run under (``LeanWebSocketProtocol``, ``BoundedHttpToolsProtocol``)."""

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import uvicorn

__all__ = ["serving"]


@contextlib.asynccontextmanager
async def serving(app: Any, **config: Any) -> AsyncIterator[int]:
    """``app`` under uvicorn on a free port of 127.0.0.1 (yielded) until the block ends. ``config``
    goes to ``uvicorn.Config`` (``ws=`` and ``http=`` protocols); no lifespan, no per-message
    deflate, no logging set-up."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()  # clients queue in the backlog until uvicorn accepts
    settings = uvicorn.Config(
        app, ws_per_message_deflate=False, lifespan="off", log_config=None, **config
    )
    server = uvicorn.Server(settings)
    task = asyncio.create_task(server.serve(sockets=[listener]))
    try:
        yield listener.getsockname()[1]
    finally:
        server.should_exit = True
        await task
