"""The five services as separate local processes, wired to one NATS and one PostgreSQL."""

import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx

from switchboard_devstack.ports import free_port
from switchboard_devstack.process import ManagedProcess, Sink
from switchboard_devstack.services import SERVICES, service

__all__ = ["ServiceHandle", "Stack"]

READY_TIMEOUT_SECONDS = 60.0


@dataclass
class ServiceHandle:
    """One running instance of a service (``gateway``, or ``gateway-2`` for a second replica)."""

    label: str
    port: int
    process: ManagedProcess

    @property
    def env(self) -> dict[str, str]:
        """The environment the process gets; a change applies from its next start."""
        return self.process.env

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process.start()

    def stop(self) -> None:
        self.process.stop()

    def kill(self) -> None:
        self.process.kill()

    def wait_ready(self, timeout: float = READY_TIMEOUT_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.process.running():
                raise RuntimeError(f"{self.label} exited during start-up; see its log")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"{self.label} was not ready within {timeout} s")


class Stack:
    def __init__(
        self,
        nats_url: str,
        database_url: str,
        sink: Sink | None = None,
        log_dir: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.nats_url = nats_url
        self.database_url = database_url
        self._sink = sink
        self._log_dir = log_dir
        self._env = dict(env or {})
        self.services: dict[str, ServiceHandle] = {}

    def add(
        self,
        name: str,
        label: str | None = None,
        port: int | None = None,
        env: Mapping[str, str] | None = None,
    ) -> ServiceHandle:
        spec = service(name)
        label = label or name
        port = port or free_port()
        service_env = {
            **os.environ,
            "NATS_URL": self.nats_url,
            "HTTP_HOST": "127.0.0.1",
            "HTTP_PORT": str(port),
            "INSTANCE_ID": label,
            "PYTHONUNBUFFERED": "1",
            **self._env,
            **(env or {}),
        }
        if spec.needs_database:
            service_env["DATABASE_URL"] = self.database_url
        if self._log_dir is not None:
            self._log_dir.mkdir(parents=True, exist_ok=True)
        process = ManagedProcess(
            label,
            [str(Path(sys.executable).parent / spec.script)],
            env=service_env,
            sink=self._sink,
            log_file=self._log_dir / f"{label}.log" if self._log_dir else None,
        )
        handle = ServiceHandle(label, port, process)
        self.services[label] = handle
        return handle

    def add_all(self, ports: Mapping[str, int] | None = None) -> None:
        for spec in SERVICES:
            self.add(spec.name, port=(ports or {}).get(spec.name))

    def start(self) -> None:
        """Start every added service (persistence first: it migrates); wait until all are ready."""
        for handle in self.services.values():
            if not handle.process.running():
                handle.start()
        for handle in self.services.values():
            handle.wait_ready()

    def stop(self) -> None:
        for handle in reversed(list(self.services.values())):
            handle.stop()

    def __enter__(self) -> Self:
        """``with stack:`` starts every service and stops them all on leaving, or if one fails."""
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __getitem__(self, label: str) -> ServiceHandle:
        return self.services[label]
