"""py-spy profiles of a service while a scenario loads it, written beside the report."""

import contextlib
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

__all__ = ["py_spy"]


@contextlib.contextmanager
def py_spy(pid: int | None, output: Path | None) -> Iterator[None]:
    """Sample ``pid`` into a flame graph (SVG) at ``output`` for the duration of the block;
    nothing when ``output`` is None or py-spy cannot attach (it needs ptrace rights)."""
    if pid is None or output is None:
        yield
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    spy = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "py-spy"),
            "record",
            "--pid",
            str(pid),
            "--rate",
            "200",
            "--nonblocking",
            "--output",
            str(output),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)  # py-spy writes the flame graph when interrupted
        try:
            spy.wait(30)
        except subprocess.TimeoutExpired:
            spy.kill()
            spy.wait(5)
