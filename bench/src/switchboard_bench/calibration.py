"""How fast this machine runs Python, so that reports from different machines can be compared.

The ratio targets do not depend on the machine: the gateway and the reference servers run in
the same session. The absolute ones do (SSE p99 under 1 s, 20,000 messages/s into PostgreSQL,
p99 at most 50 ms at half capacity): the same code measured 1.7x slower CPU per message on one
machine of this kind than on another. Every run therefore times a fixed pure-Python workload
(dicts, strings, JSON: what the services do per message) in a child process pinned to the
server's core, best of seven, and the report prints it beside the figures.
"""

import subprocess
import sys

__all__ = ["WORKLOAD", "python_speed_ms"]

WORKLOAD = """
import json, os, sys, time
core = int(sys.argv[1])
if core < (os.cpu_count() or 1):
    os.sched_setaffinity(0, {core})
def work():
    table = {}
    for i in range(50_000):
        table["key-" + str(i)] = {"seq": i, "room": "lobby", "even": i % 2 == 0}
    text = json.dumps(table)
    return len(json.loads(text))
best = float("inf")
for _ in range(7):
    started = time.perf_counter()
    work()
    best = min(best, time.perf_counter() - started)
print(round(best * 1000, 1))
"""


def python_speed_ms(core: int) -> float | None:
    """Milliseconds the workload takes on ``core`` (best of seven); None if it could not run."""
    try:
        out = subprocess.run(
            [sys.executable, "-c", WORKLOAD, str(core)],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        return float(out.stdout.strip())
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
