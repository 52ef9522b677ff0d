"""Profiles of the hot path: ``py-spy record`` attached to a running server while it is loaded.

``switchboard-bench --profile`` writes ``bench/profiles/<name>.svg`` (a flame graph) for the
gateway during the fan-out ladder; the report links every file in bench/profiles/.
"""

import contextlib
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from switchboard_bench.loadgen import pinned

__all__ = ["py_spy_binary", "recording"]


def py_spy_binary() -> str | None:
    candidate = Path(sys.executable).parent / "py-spy"
    return str(candidate) if candidate.exists() else shutil.which("py-spy")


@contextlib.contextmanager
def recording(
    pid: int | None, output: Path | None, core: int | None = None, rate: int = 200
) -> Iterator[None]:
    """Sample ``pid`` (without pausing it) from entry to exit; write a flame graph to ``output``
    (collapsed stacks when it ends in ``.txt``; nothing at all when either is None: a run
    without ``--profile``). py-spy runs pinned to
    ``core`` so that it does not take the server's own core."""
    if pid is None or output is None:
        yield
        return
    binary = py_spy_binary()
    if binary is None:
        raise FileNotFoundError("py-spy not found: it is a locked dependency of switchboard-bench")
    output.parent.mkdir(parents=True, exist_ok=True)
    argv = [
        binary,
        "record",
        "--pid",
        str(pid),
        "--output",
        str(output),
        "--format",
        "raw" if output.suffix == ".txt" else "flamegraph",
        "--rate",
        str(rate),
        "--nonblocking",
    ]
    proc = subprocess.Popen(
        pinned(argv, core), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        yield
    finally:
        proc.send_signal(signal.SIGINT)  # py-spy writes the flame graph on SIGINT
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
