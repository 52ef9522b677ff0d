"""How fast this machine runs Python and its loopback network, so that reports from different
machines can be compared.

Machines of this kind differ, and not evenly. The same code measured 1.7x the CPU per message
on one machine than on another; on a third, pure Python ran as fast as ever but the kernel's
cost per socket write had doubled (5.0 -> 9.5 µs for the Node.js reference server), so every
load generator neared its core at half the rate and the fan-out ratios became the load
generator's. Every run therefore takes two readings in a child process pinned to the server's
core, best of seven each, and the report prints them beside the figures:

- ``pythonSpeedMs``: a fixed pure-Python workload (dicts, strings, JSON: what the services do
  per message), in milliseconds;
- ``loopbackMicros``: one 100-byte TCP send and its receive over loopback, in microseconds
  (what every delivered frame costs the kernel, on both ends).
"""

import json
import subprocess
import sys

__all__ = ["LOOPBACK", "SPEED", "WORKLOAD", "readings"]

SPEED = "pythonSpeedMs"
LOOPBACK = "loopbackMicros"

WORKLOAD = """
import json, os, socket, sys, time
core = int(sys.argv[1])
if core < (os.cpu_count() or 1):
    os.sched_setaffinity(0, {core})

def python_work():
    table = {}
    for i in range(50_000):
        table["key-" + str(i)] = {"seq": i, "room": "lobby", "even": i % 2 == 0}
    text = json.dumps(table)
    return len(json.loads(text))

listener = socket.create_server(("127.0.0.1", 0))
client = socket.create_connection(listener.getsockname())
server, _ = listener.accept()
client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
frame = b"x" * 100
ROUND_TRIPS = 5_000

def loopback_work():
    for _ in range(ROUND_TRIPS):
        client.send(frame)
        server.recv(4096)

def best(work, rounds=7):
    fastest = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        fastest = min(fastest, time.perf_counter() - started)
    return fastest

print(json.dumps({
    "python": round(best(python_work) * 1000, 1),
    "loopback": round(best(loopback_work) / ROUND_TRIPS * 1e6, 2),
}))
"""


def readings(core: int) -> dict[str, float]:
    """``{SPEED: ms, LOOPBACK: µs}`` measured on ``core``; empty if the workload could not run."""
    try:
        out = subprocess.run(
            [sys.executable, "-c", WORKLOAD, str(core)],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        measured = json.loads(out.stdout)
        return {SPEED: float(measured["python"]), LOOPBACK: float(measured["loopback"])}
    except (OSError, subprocess.SubprocessError, ValueError, KeyError, TypeError):
        return {}
