"""Start a system under test, pinned, and measure its CPU and memory.

Three systems, one interface (``RunningSystem``)::

    with start_system("gateway", ctx, senders_rate=30.0, connections=1000) as system:
        before = system.cpu_snapshot()
        result = run_loadgen(system.loadgen_config(mode="fanout", ...), ctx.loadgen_core, 300)
        used = system.cpu_snapshot().minus(before)   # {"gateway": s, "nats": s, ...}

- ``gateway``: the real path. Embedded NATS (JetStream) and PostgreSQL and all five services
  (switchboard_devstack), presence, limits and auth on (HS256; the load generator mints one token
  per connection from ``jwt_secret``). The gateway runs on ``ctx.server_core``; NATS,
  PostgreSQL and the other four services share ``ctx.loadgen_core`` with the load generator (a
  2-core machine: the report says so).
- ``node-ws``: bench/js/reference-server.mjs, on ``ctx.server_core``.
- ``websockets``: switchboard_bench.references.websockets_broadcast, on ``ctx.server_core``.

``cpu_snapshot()`` holds user+system CPU seconds of the server (key ``server``) and, for the
gateway, of every other component (``nats``, ``postgres`` with its backends, ``chat``,
``persistence``, ``notification``, ``metrics-collector``). ``rss_bytes()`` is the server's.
"""

import contextlib
import math
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from switchboard_devstack.process import ManagedProcess
from switchboard_devstack.stack import Stack

from switchboard_bench.context import BenchContext
from switchboard_bench.loadgen import JS_DIR, node_binary, pinned
from switchboard_bench.system_stack import pin, system_stores

__all__ = [
    "SYSTEMS",
    "CpuSnapshot",
    "RunningSystem",
    "gateway_env",
    "start_system",
]

SYSTEMS: dict[str, str] = {
    "gateway": "Switchboard gateway",
    "node-ws": "Node.js ws reference",
    "websockets": "Python websockets reference",
}
"""Every system a scenario compares, in the report's order, with its label."""

OTHER_SERVICES = ("persistence", "chat", "notification", "metrics-collector")
DATABASE = "switchboard"
START_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class CpuSnapshot:
    """CPU seconds (user + system) per component at one moment."""

    seconds: dict[str, float]
    server_wait: float = 0.0
    """Seconds the server's event loop spent runnable but waiting for its core, less what its
    own other threads ran (``run_queue_wait``): high when another process shares its core, as
    on a machine that is not quiet."""
    server_kernel: float = 0.0
    """The part of the server's CPU seconds spent in the kernel (its socket writes and reads;
    on loopback a write also pays for the receiver's TCP receive)."""

    def minus(self, earlier: "CpuSnapshot") -> "CpuSnapshot":
        return CpuSnapshot(
            {k: v - earlier.seconds.get(k, 0.0) for k, v in self.seconds.items()},
            self.server_wait - earlier.server_wait,
            self.server_kernel - earlier.server_kernel,
        )

    @property
    def server(self) -> float:
        return self.seconds.get("server", 0.0)

    @property
    def rest(self) -> float:
        """Everything but the server: the rest of the system (zero for the references)."""
        return sum(v for k, v in self.seconds.items() if k != "server")


@dataclass
class RunningSystem:
    name: str
    label: str
    protocol: str
    """The load generator's protocol: ``switchboard`` or ``reference``."""
    ws_url: str
    server: psutil.Process
    jwt_secret: str | None = None
    others: dict[str, psutil.Process] = field(default_factory=dict)
    """The rest of the system (gateway only): nats, postgres, chat, persistence, ..."""

    def loadgen_config(self, **fields: Any) -> dict[str, Any]:
        """A load generator config for this system: protocol, url and token secret set."""
        config: dict[str, Any] = {"protocol": self.protocol, "url": self.ws_url}
        if self.jwt_secret is not None:
            config["jwtSecret"] = self.jwt_secret
        return {**config, **fields}

    def cpu_snapshot(self) -> CpuSnapshot:
        seconds = {"server": _cpu_seconds(self.server, children=False)}
        for name, proc in self.others.items():
            seconds[name] = _cpu_seconds(proc, children=name == "postgres")
        with contextlib.suppress(psutil.NoSuchProcess):
            kernel = self.server.cpu_times().system
        return CpuSnapshot(seconds, run_queue_wait(self.server.pid), kernel)

    def rss_bytes(self) -> int:
        return int(self.server.memory_info().rss)

    def others_rss_bytes(self) -> dict[str, int]:
        """RSS of every other component (PostgreSQL: the postmaster's own, not its backends)."""
        out: dict[str, int] = {}
        for name, proc in self.others.items():
            with contextlib.suppress(psutil.NoSuchProcess):
                out[name] = int(proc.memory_info().rss)
        return out

    def alive(self) -> bool:
        return bool(self.server.is_running() and self.server.status() != psutil.STATUS_ZOMBIE)


def _cpu_seconds(proc: psutil.Process, *, children: bool) -> float:
    procs = [proc, *(proc.children(recursive=True) if children else [])]
    total = 0.0
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = p.cpu_times()
            total += times.user + times.system
    return total


def run_queue_wait(pid: int) -> float:
    """Seconds the main thread of ``pid`` (its event loop) has waited on a run queue for what
    was not the server's own work: its wait less the CPU its other threads used (a runtime's
    garbage-collector or I/O threads share its core and can keep it waiting too). Read twice,
    the difference is a step's figure (below zero: none); 0 where Linux does not say."""
    main_wait = 0
    others_cpu = 0
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError, ValueError, IndexError):
                ran, waited = (int(field) for field in (task / "schedstat").read_text().split()[:2])
                if task.name == str(pid):
                    main_wait = waited
                else:
                    others_cpu += ran
    return (main_wait - others_cpu) / 1e9


def gateway_env(
    jwt_secret: str,
    *,
    connections: int = 1000,
    sender_rate: float = 20.0,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The gateway's settings for a benchmark: auth, presence and limits on; the per-connection
    and per-user frame limits raised only as far as one sender's rate (frames/s) needs, and the
    connection limit only as far as the scenario's connections."""
    rate = max(20, math.ceil(sender_rate * 1.5))
    env = {
        "AUTH_ENABLED": "true",
        "JWT_SECRET": jwt_secret,
        "LOG_LEVEL": "WARNING",
        "MAX_CONNECTIONS": str(max(10000, connections + 100)),
        "CLIENT_FRAMES_PER_SECOND": str(rate),
        "CLIENT_FRAME_BURST": str(max(40, 2 * rate)),
        "USER_FRAMES_PER_SECOND": str(max(100, rate)),
        "USER_FRAME_BURST": str(max(200, 2 * rate)),
    }
    return {**env, **(extra or {})}


@contextlib.contextmanager
def start_system(
    name: str,
    ctx: BenchContext,
    *,
    connections: int = 1000,
    sender_rate: float = 20.0,
    env: Mapping[str, str] | None = None,
) -> Iterator[RunningSystem]:
    """Start ``name`` (a key of ``SYSTEMS``); stop everything it started on the way out.

    For the gateway, ``connections`` and ``sender_rate`` (the highest frames/s one connection
    sends) set its limits (``gateway_env``); ``env`` overrides any gateway setting.
    """
    if name == "gateway":
        with _gateway(ctx, connections, sender_rate, env) as system:
            yield system
    elif name == "node-ws":
        argv = [node_binary(), str(JS_DIR / "reference-server.mjs"), "0"]
        with _reference(name, "reference", argv, ctx) as system:
            yield system
    elif name == "websockets":
        argv = [sys.executable, "-m", "switchboard_bench.references.websockets_broadcast", "0"]
        with _reference(name, "reference", argv, ctx) as system:
            yield system
    else:
        raise KeyError(f"no system {name!r}; known: {', '.join(SYSTEMS)}")


@contextlib.contextmanager
def _reference(
    name: str, protocol: str, argv: list[str], ctx: BenchContext
) -> Iterator[RunningSystem]:
    log = ctx.work_dir / "logs" / f"{name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as log_file:
        proc = subprocess.Popen(
            pinned(argv, ctx.server_core),
            stdout=subprocess.PIPE,
            stderr=log_file,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
    assert proc.stdout is not None
    try:
        line = proc.stdout.readline()  # "listening <port>", or EOF if it died
        if not line.startswith("listening "):
            raise RuntimeError(f"{name} did not start; see {log}")
        port = int(line.split()[1])
        yield RunningSystem(
            name, SYSTEMS[name], protocol, f"ws://127.0.0.1:{port}", psutil.Process(proc.pid)
        )
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        proc.stdout.close()


@contextlib.contextmanager
def _gateway(
    ctx: BenchContext, connections: int, sender_rate: float, env: Mapping[str, str] | None
) -> Iterator[RunningSystem]:
    secret = secrets.token_hex(32)
    with contextlib.ExitStack() as stack:
        stores = stack.enter_context(
            system_stores(ctx.work_dir, nats_core=ctx.loadgen_core, postgres_core=ctx.loadgen_core)
        )
        services = Stack(stores.nats_url, stores.database_url, log_dir=stores.log_dir)
        for service in OTHER_SERVICES:
            _pin_argv(services.add(service).process, ctx.loadgen_core)
        gateway_handle = services.add(
            "gateway",
            env=gateway_env(secret, connections=connections, sender_rate=sender_rate, extra=env),
        )
        _pin_argv(gateway_handle.process, ctx.server_core)
        stack.callback(services.stop)
        services.start()
        others: dict[str, psutil.Process] = {}
        for label, pid in [("nats", stores.nats_pids[0]), ("postgres", stores.postgres.pid)]:
            assert pid is not None
            pin(pid, ctx.loadgen_core)
            others[label] = psutil.Process(pid)
        for service in OTHER_SERVICES:
            pid = services[service].process.pid
            assert pid is not None
            others[service] = psutil.Process(pid)
        gateway_pid = gateway_handle.process.pid
        assert gateway_pid is not None
        _settle(psutil.Process(gateway_pid))
        yield RunningSystem(
            "gateway",
            SYSTEMS["gateway"],
            "switchboard",
            f"{gateway_handle.ws_url}/ws",
            psutil.Process(gateway_pid),
            jwt_secret=secret,
            others=others,
        )


def _pin_argv(process: ManagedProcess, core: int | None) -> None:
    """Start ``process`` under taskset: every thread it ever has runs on ``core``."""
    process.argv = pinned(process.argv, core)


def _settle(proc: psutil.Process, quiet_fraction: float = 0.2, timeout: float = 20.0) -> None:
    """Wait until a freshly started process stops burning CPU on start-up (imports, JIT caches):
    its CPU over 0.5 s falls under ``quiet_fraction`` of a core."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.cpu_percent(interval=0.5) < quiet_fraction * 100:
            return
