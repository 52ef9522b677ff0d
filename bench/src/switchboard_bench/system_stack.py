"""NATS, PostgreSQL and services for the system scenarios (persistence, SSE, cluster), started
with ``switchboard_devstack``; processes pinned to a core and their CPU time accounted.

Each run gets fresh stores under the scenario's work folder, so a run never sees another's data.
"""

import contextlib
import os
import shutil
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from switchboard_devstack.nats_server import NatsServer
from switchboard_devstack.postgres_server import PostgresServer
from switchboard_devstack.stack import Stack
from switchboard_devstack.stores import scratch_dir

from switchboard_bench.nats_cluster import NatsCluster

__all__ = [
    "CpuMeter",
    "SystemStores",
    "pin",
    "process_cpu_seconds",
    "process_runtime_seconds",
    "system_stores",
]

DATABASE = "switchboard"


@dataclass
class SystemStores:
    nats_urls: list[str]
    """One per NATS node (one, or a cluster's)."""
    nats_pids: list[int | None]
    postgres: PostgresServer
    log_dir: Path

    @property
    def nats_url(self) -> str:
        """Every node, comma separated: what a service's ``NATS_URL`` takes."""
        return ",".join(self.nats_urls)

    @property
    def database_url(self) -> str:
        return self.postgres.dsn(DATABASE)

    def stack(self, env: Mapping[str, str] | None = None) -> Stack:
        return Stack(
            self.nats_url,
            self.database_url,
            log_dir=self.log_dir,
            env={"LOG_LEVEL": "WARNING", **(env or {})},
        )


@contextlib.contextmanager
def system_stores(
    work_dir: Path, *, nats_core: int, postgres_core: int, nats_nodes: int = 1
) -> Iterator[SystemStores]:
    """A fresh NATS (JetStream on disk; ``nats_nodes`` > 1: a cluster on loopback) and
    PostgreSQL, each pinned to a core; removed after."""
    log_dir = work_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    scratch = scratch_dir("sb-bench-")
    with contextlib.ExitStack() as stack:
        stack.callback(shutil.rmtree, scratch, ignore_errors=True)
        if nats_nodes == 1:
            nats = NatsServer(scratch / "nats", log_file=log_dir / "nats.log")
            nats.start()
            stack.callback(nats.stop)
            urls, pids = [nats.url], [nats.pid]
        else:
            cluster = NatsCluster(scratch / "nats", nats_nodes, log_dir=log_dir)
            stack.callback(cluster.stop)
            cluster.start()
            urls, pids = cluster.urls, cluster.pids
        for pid in pids:
            pin(pid, nats_core)
        postgres = PostgresServer(scratch / "pg", log_file=log_dir / "postgres.log")
        postgres.start()
        stack.callback(postgres.stop)
        pin(postgres.pid, postgres_core)
        postgres.create_database(DATABASE)
        yield SystemStores(urls, pids, postgres, log_dir)


def pin(pid: int | None, core: int | None) -> None:
    """Pin every thread of a process, and of its children, to one core (threads and children
    made later inherit it). Every thread: setting a process's affinity moves only its main
    thread, and a Go or libuv runtime has started its others by then."""
    if pid is None or core is None or core >= (os.cpu_count() or 1):
        return
    with contextlib.suppress(psutil.NoSuchProcess, ProcessLookupError, PermissionError):
        root = psutil.Process(pid)
        for proc in [root, *root.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess, ProcessLookupError, PermissionError):
                for thread in proc.threads():
                    with contextlib.suppress(ProcessLookupError, PermissionError, OSError):
                        os.sched_setaffinity(thread.id, {core})


def process_cpu_seconds(pid: int | None) -> float:
    """User + system CPU of a process, its live children and the children it has reaped."""
    if pid is None:
        return 0.0
    try:
        proc = psutil.Process(pid)
        times = proc.cpu_times()
        total = float(times.user + times.system + times.children_user + times.children_system)
        for child in proc.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                child_times = child.cpu_times()
                total += child_times.user + child_times.system
    except psutil.Error:
        return 0.0
    return total


def process_runtime_seconds(pid: int | None) -> float:
    """CPU time of a process's threads and of its children's, to the nanosecond (the scheduler's
    ``/proc/<pid>/task/*/schedstat``), where ``process_cpu_seconds`` counts clock ticks (10 ms):
    for windows that use a few ms of CPU. Threads and children that end meanwhile drop out of
    the sum, so only a difference over a window where they live means anything."""
    if pid is None:
        return 0.0
    try:
        root = psutil.Process(pid)
        pids = [pid, *(child.pid for child in root.children(recursive=True))]
    except psutil.Error:
        return 0.0
    nanoseconds = 0
    for each in pids:
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{each}/task").iterdir():
                with contextlib.suppress(OSError, ValueError, IndexError):
                    nanoseconds += int((task / "schedstat").read_text().split()[0])
    return nanoseconds / 1e9


@dataclass
class CpuMeter:
    """CPU seconds used by named processes between ``start()`` and ``stop()``, read with ``read``
    (``process_runtime_seconds`` for windows too short for clock ticks)."""

    pids: dict[str, int | None]
    read: Callable[[int | None], float] = process_cpu_seconds
    _started: dict[str, float] = field(default_factory=dict)
    used: dict[str, float] = field(default_factory=dict)

    def start(self) -> None:
        self._started = {name: self.read(pid) for name, pid in self.pids.items()}

    def stop(self) -> dict[str, float]:
        self.used = {
            name: max(0.0, self.read(pid) - self._started.get(name, 0.0))
            for name, pid in self.pids.items()
        }
        return self.used
