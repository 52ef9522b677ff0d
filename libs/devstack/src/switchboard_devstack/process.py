"""A child process whose output lines are prefixed and copied to a sink (terminal or log file)."""

import os
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

__all__ = ["ManagedProcess"]

Sink = Callable[[str], None]


class ManagedProcess:
    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        sink: Sink | None = None,
        log_file: Path | None = None,
        user: str | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = dict(env) if env is not None else dict(os.environ)
        self._sink = sink
        self._log_file = log_file
        self._user = user
        self._cwd = cwd
        self._proc: subprocess.Popen[bytes] | None = None
        self._pump: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        if self.running():
            raise RuntimeError(f"{self.name} is already running")
        self._proc = subprocess.Popen(
            self.argv,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            user=self._user,
            cwd=self._cwd,
            start_new_session=True,  # Ctrl-C reaches us only; we stop children in order
        )
        assert self._proc.stdout is not None
        log = None
        if self._log_file is not None:
            self._log_file.parent.mkdir(parents=True, exist_ok=True)
            log = self._log_file.open("a", encoding="utf-8")
        self._pump = threading.Thread(target=self._copy, args=(self._proc.stdout, log), daemon=True)
        self._pump.start()

    def _copy(self, stream: IO[bytes], log: IO[str] | None) -> None:
        try:
            for raw in iter(stream.readline, b""):
                line = raw.decode("utf-8", "replace").rstrip("\n")
                if log is not None:
                    log.write(line + "\n")
                    log.flush()
                if self._sink is not None:
                    self._sink(f"[{self.name}] {line}")
        finally:
            stream.close()
            if log is not None:
                log.close()

    def send_signal(self, signum: int) -> None:
        if self._proc is not None and self._proc.poll() is None:
            os.kill(self._proc.pid, signum)

    def kill(self) -> None:
        """``kill -9``: no chance to clean up, as in a crash."""
        self.send_signal(signal.SIGKILL)
        self.wait(10)

    def stop(self, timeout: float = 15.0, signum: int = signal.SIGTERM.value) -> None:
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self.send_signal(signum)
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)
        self.wait(5)

    def wait(self, timeout: float) -> int | None:
        if self._proc is None:
            return None
        code = self._proc.wait(timeout)
        if self._pump is not None:
            self._pump.join(timeout)
        return code
