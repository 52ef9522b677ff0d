"""A Node.js load generator of ours (``bench/js/*.mjs``) as a child process pinned to a core,
spoken to in JSON lines: commands on its stdin, reports on its stdout."""

import json
import queue
import shutil
import subprocess
import threading
from pathlib import Path
from typing import IO, Any

from switchboard_bench.system_stack import pin

__all__ = ["JS_DIR", "NodeLoadgen"]

JS_DIR = Path(__file__).resolve().parents[2] / "js"


class NodeLoadgen:
    def __init__(self, script: str, config: dict[str, Any], core: int) -> None:
        node = shutil.which("node")
        if node is None:
            raise FileNotFoundError("node (Node.js 20 or newer) is needed for the load generator")
        self._proc = subprocess.Popen(
            [node, str(JS_DIR / script), json.dumps(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        pin(self._proc.pid, core)
        self._lines: queue.Queue[str | None] = queue.Queue()
        assert self._proc.stdout is not None
        self._reader = threading.Thread(target=self._read, args=(self._proc.stdout,), daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self._proc.pid

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self._lines.put(line)
        self._lines.put(None)

    def send(self, command: dict[str, Any]) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.write(json.dumps(command) + "\n")
        self._proc.stdin.flush()

    def report(self, event: str, timeout: float) -> dict[str, Any]:
        """The next report named ``event`` (others before it are skipped)."""
        while True:
            try:
                line = self._lines.get(timeout=timeout)
            except queue.Empty:
                raise TimeoutError(f"no {event!r} report from the load generator") from None
            if line is None:
                stderr = self._proc.stderr.read() if self._proc.stderr else ""
                raise RuntimeError(f"the load generator exited: {stderr[-2000:]}")
            found: dict[str, Any] = json.loads(line)
            if found.get("event") == event:
                return found

    def close(self) -> None:
        if self._proc.stdin is not None and not self._proc.stdin.closed:
            self._proc.stdin.close()  # the load generator exits when its stdin closes
        try:
            self._proc.wait(10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(5)
        self._reader.join(5)
        for stream in (self._proc.stdout, self._proc.stderr):
            if stream is not None:
                stream.close()
