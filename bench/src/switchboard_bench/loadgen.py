"""Drive ``bench/js/loadgen.mjs``, the Node.js load generator, from a scenario.

Call::

    from switchboard_bench.loadgen import run_loadgen

    result = run_loadgen(
        {
            "mode": "fanout",                  # idle | fanout | rooms | classic
            "protocol": system.protocol,       # "switchboard" (the gateway) | "reference"
            "url": system.ws_url,              # ws://127.0.0.1:<port>/ws for the gateway
            "jwtSecret": system.jwt_secret,    # switchboard only: one HS256 token per connection
            "connections": 1000,               # fanout: receivers in one room
            "senders": 10,                     # fanout: the first ones of them also send
            "steps": [20, 40, 80],             # fanout: offered messages per second, in turn
            "stepMs": 5000, "drainMs": 3000, "stopP99Ms": 100, "stopOnLoss": True,
        },
        core=ctx.loadgen_core,
        timeout=300,
        on_event=lambda event: ...,  # {"event": "step-start", "step": 0, ...} as they happen
    )

``targets.start_system(...)`` gives ``protocol``, ``ws_url`` and ``jwt_secret`` (and the
``loadgen_config()`` shortcut) for every system. Other modes: ``rooms`` (``roomSize``,
``intervalMs``, ``warmupMs``, ``durationMs``), ``classic`` (``roomSize``, ``messages``, ``gapMs``),
``idle`` (``connections``; the ``holding`` event is awaited: the load generator keeps every
connection open until ``on_event`` returns). ``connectConcurrency`` (100) and ``payloadBytes``
(0) apply to all. bench/js/loadgen.mjs's header documents the modes and the result; the result
has ``connections``, ``steps`` (one per step: ``sent``, ``acked``, ``expected``, ``delivered``,
``deliveriesPerSecond``, ``lost``, ``latency``/``own``/``ack`` percentiles in ms, ``histogram``,
``loadgenCpuFraction``), ``stoppedBecause`` (fanout), ``loadgen`` (its own CPU), ``errors`` and
``closes``.

The load generator runs pinned to ``core`` with ``taskset``; its config goes in a file, its result
comes back as one JSON object on stdout; events on stderr are handed to ``on_event`` as they come.
"""

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

__all__ = ["JS_DIR", "LoadgenError", "node_binary", "run_loadgen"]

JS_DIR = Path(__file__).resolve().parents[2] / "js"
"""bench/js: the load generator, the Node.js reference server and their locked ``ws``."""

EVENT_PREFIX = "@event "

Event = dict[str, Any]


class LoadgenError(RuntimeError):
    """The load generator failed or timed out; the message ends with its last stderr lines."""


def node_binary() -> str:
    found = shutil.which("node")
    if found is None:
        raise FileNotFoundError("node not found: scripts/system-deps.sh installs Node.js")
    if not (JS_DIR / "node_modules" / "ws").is_dir():
        raise FileNotFoundError(f"{JS_DIR}/node_modules/ws is missing: run `npm ci` in {JS_DIR}")
    return found


def pinned(argv: list[str], core: int | None) -> list[str]:
    """``argv`` run on one core (``taskset``), or as it is where there is no such core."""
    if core is None or shutil.which("taskset") is None or core >= (os.cpu_count() or 1):
        return argv
    return ["taskset", "-c", str(core), *argv]


def run_loadgen(
    config: dict[str, Any],
    core: int | None,
    timeout: float,
    on_event: Callable[[Event], None] | None = None,
) -> dict[str, Any]:
    """Run one load generator to completion; return its JSON result."""
    with tempfile.TemporaryDirectory(prefix="switchboard-loadgen-") as scratch:
        config_path = Path(scratch) / "config.json"
        config_path.write_text(json.dumps(config))
        argv = pinned([node_binary(), str(JS_DIR / "loadgen.mjs"), str(config_path)], core)
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdin is not None
        assert proc.stdout is not None
        assert proc.stderr is not None
        diagnostics: list[str] = []
        failures: list[BaseException] = []
        reader = threading.Thread(
            target=_read_events,
            args=(proc.stderr, proc.stdin, on_event, diagnostics, failures),
            daemon=True,
        )
        reader.start()
        # Not communicate(): it would close stdin, which the awaited events answer on.
        out_parts: list[str] = []
        stdout = proc.stdout
        collector = threading.Thread(target=lambda: out_parts.append(stdout.read()), daemon=True)
        collector.start()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise LoadgenError(_explain(f"timed out after {timeout} s", diagnostics)) from None
        finally:
            collector.join(5)
            reader.join(5)
            for pipe in (proc.stdin, proc.stdout, proc.stderr):
                with contextlib.suppress(OSError):
                    pipe.close()
        out = "".join(out_parts)
        if failures:
            raise LoadgenError(f"on_event failed: {failures[0]!r}") from failures[0]
        if proc.returncode != 0:
            raise LoadgenError(_explain(f"exited with {proc.returncode}", diagnostics))
        try:
            result: dict[str, Any] = json.loads(out)
        except ValueError:
            raise LoadgenError(_explain("printed no JSON result", diagnostics)) from None
        result["diagnostics"] = diagnostics[-20:]
        return result


def _read_events(
    stderr: IO[str],
    stdin: IO[str],
    on_event: Callable[[Event], None] | None,
    diagnostics: list[str],
    failures: list[BaseException],
) -> None:
    for raw in stderr:
        line = raw.rstrip("\n")
        if not line.startswith(EVENT_PREFIX):
            diagnostics.append(line)
            continue
        event: Event = json.loads(line[len(EVENT_PREFIX) :])
        try:
            if on_event is not None and not failures:
                on_event(event)
        except Exception as error:  # handed back to run_loadgen's caller
            failures.append(error)
        if event.get("await"):
            try:
                stdin.write("go\n")
                stdin.flush()
            except (BrokenPipeError, ValueError):
                pass


def _explain(what: str, diagnostics: list[str]) -> str:
    tail = "\n".join(diagnostics[-10:])
    return f"the load generator {what}" + (f":\n{tail}" if tail else "")
