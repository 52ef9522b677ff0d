"""A NATS cluster with JetStream on loopback: ``size`` servers joined by routes, each with its
own store, for the cluster scenario (replicated streams, services spread over the nodes)."""

import time
from pathlib import Path

import httpx
from switchboard_devstack.nats_server import nats_server_binary
from switchboard_devstack.ports import free_port
from switchboard_devstack.process import ManagedProcess

__all__ = ["NatsCluster"]

CLUSTER_NAME = "switchboard-bench"


class NatsCluster:
    def __init__(self, store_dir: Path, size: int = 3, log_dir: Path | None = None) -> None:
        self.ports = [free_port() for _ in range(size)]
        self.monitor_ports = [free_port() for _ in range(size)]
        route_ports = [free_port() for _ in range(size)]
        routes = ",".join(f"nats://127.0.0.1:{port}" for port in route_ports)
        self._store_dir = store_dir
        self.processes = [
            ManagedProcess(
                f"nats-{i + 1}",
                [
                    str(nats_server_binary()),
                    "--addr",
                    "127.0.0.1",
                    "--port",
                    str(self.ports[i]),
                    "--http_port",
                    str(self.monitor_ports[i]),
                    "--jetstream",
                    "--store_dir",
                    str(store_dir / f"n{i + 1}"),
                    "--server_name",
                    f"n{i + 1}",
                    "--cluster_name",
                    CLUSTER_NAME,
                    "--cluster",
                    f"nats://127.0.0.1:{route_ports[i]}",
                    "--routes",
                    routes,
                ],
                log_file=log_dir / f"nats-{i + 1}.log" if log_dir else None,
            )
            for i in range(size)
        ]

    @property
    def urls(self) -> list[str]:
        return [f"nats://127.0.0.1:{port}" for port in self.ports]

    @property
    def pids(self) -> list[int | None]:
        return [process.pid for process in self.processes]

    def start(self, timeout: float = 60.0) -> None:
        """Start every node; return once each says JetStream is up (the meta group has a
        leader)."""
        for process in self.processes:
            process.start()
        deadline = time.monotonic() + timeout
        pending = set(self.monitor_ports)
        while pending and time.monotonic() < deadline:
            for port in list(pending):
                try:
                    url = f"http://127.0.0.1:{port}/healthz?js-enabled-only=true"
                    if httpx.get(url, timeout=1.0).status_code == 200:
                        pending.discard(port)
                except httpx.HTTPError:
                    pass
            time.sleep(0.1)
        if pending:
            raise TimeoutError(f"the NATS cluster was not ready within {timeout} s")
        while time.monotonic() < deadline:
            info = httpx.get(f"http://127.0.0.1:{self.monitor_ports[0]}/jsz", timeout=1.0).json()
            if (info.get("meta_cluster") or {}).get("leader"):
                return
            time.sleep(0.1)
        raise TimeoutError("the JetStream meta group elected no leader")

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()
