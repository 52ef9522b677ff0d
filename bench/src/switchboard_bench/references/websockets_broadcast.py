"""The Python reference: the ``websockets`` library's asyncio server and its ``broadcast()``.

``python -m switchboard_bench.references.websockets_broadcast <port>`` prints ``listening <port>``
once it accepts connections. Protocol (the load generator's ``reference``):
``{"type":"join","room"}`` -> ``{"type":"joined","room"}``; ``{"type":"send","room","body"}`` ->
``{"type":"message","room","body"}`` to every member of the room, the sender included.
"""

import asyncio
import json
import signal
import sys
from collections import defaultdict

from websockets.asyncio.server import ServerConnection, broadcast, serve

rooms: defaultdict[str, set[ServerConnection]] = defaultdict(set)


async def handle(ws: ServerConnection) -> None:
    joined: set[str] = set()
    try:
        async for raw in ws:
            try:
                frame = json.loads(raw)
            except ValueError:
                continue
            room = frame.get("room")
            if not isinstance(room, str):
                continue
            if frame.get("type") == "join":
                rooms[room].add(ws)
                joined.add(room)
                await ws.send(json.dumps({"type": "joined", "room": room}))
            elif frame.get("type") == "send" and room in joined:
                out = json.dumps({"type": "message", "room": room, "body": frame.get("body")})
                broadcast(rooms[room], out)
    finally:
        for room in joined:
            rooms[room].discard(ws)
            if not rooms[room]:
                del rooms[room]


async def main(port: int) -> None:
    stop = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set_result, None)
    async with serve(handle, "127.0.0.1", port, compression=None, ping_interval=None) as server:
        bound = next(iter(server.sockets)).getsockname()[1]
        print(f"listening {bound}", flush=True)
        await stop


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
