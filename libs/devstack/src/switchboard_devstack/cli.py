"""``switchboard-dev`` (``make dev``): the whole system on this machine, stopped by Ctrl-C."""

import argparse
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from switchboard_devstack.nats_server import NatsServer
from switchboard_devstack.ports import port_in_use
from switchboard_devstack.postgres_server import PostgresServer
from switchboard_devstack.process import Sink
from switchboard_devstack.services import SERVICES
from switchboard_devstack.stack import Stack

__all__ = ["main"]

DEV_NATS_PORT = 4223  # 4222 is often taken by a system NATS
DEV_POSTGRES_PORT = 5433  # 5432 likewise


@dataclass(frozen=True)
class DevPorts:
    """The ports ``make dev`` uses: the documented ones, or a block from ``--base-port``."""

    services: dict[str, int]
    nats: int
    postgres: int

    @classmethod
    def documented(cls) -> "DevPorts":
        return cls({s.name: s.dev_port for s in SERVICES}, DEV_NATS_PORT, DEV_POSTGRES_PORT)

    @classmethod
    def from_base(cls, base: int) -> "DevPorts":
        services = {spec.name: base + i for i, spec in enumerate(SERVICES)}
        return cls(services, base + len(SERVICES), base + len(SERVICES) + 1)


DATABASE_NAME = "switchboard"

_COLOURS = ["36", "35", "33", "32", "34", "31", "37"]
_lock = threading.Lock()


def _sink() -> Sink:
    colour_of: dict[str, str] = {}
    use_colour = sys.stdout.isatty()

    def write(line: str) -> None:
        name = line[1 : line.index("]")] if line.startswith("[") else ""
        if use_colour and name:
            code = colour_of.setdefault(name, _COLOURS[len(colour_of) % len(_COLOURS)])
            line = f"\033[{code}m[{name}]\033[0m{line[len(name) + 2 :]}"
        with _lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    return write


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--data-dir", type=Path, default=Path(".switchboard"), help="kept between runs"
    )
    parser.add_argument(
        "--base-port",
        type=int,
        help="use consecutive ports from here instead of the documented ones",
    )
    args = parser.parse_args()
    ports = DevPorts.from_base(args.base_port) if args.base_port else DevPorts.documented()
    data_dir: Path = args.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    data_dir.chmod(0o755)
    sink = _sink()

    stop_requested = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        # Raise once, wherever start-up or the wait is; later signals must not interrupt clean-up.
        nonlocal stop_requested
        del signum, frame
        if not stop_requested:
            stop_requested = True
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    _refuse_taken_ports(ports)
    stores: list[NatsServer | PostgresServer] = []
    stack: Stack | None = None
    try:
        nats_url, database_url = _start_stores(data_dir, ports, sink, stores)
        stack = Stack(
            nats_url, database_url, sink=sink, env={"LOG_LEVEL": "INFO", "LOG_FORMAT": "text"}
        )
        stack.add_all(ports.services)
        stack.start()
        _print_summary(stack, data_dir)
        _supervise(stack, sink)
    except KeyboardInterrupt:
        sink("[switchboard-dev] stopping...")
    finally:
        if stack is not None:
            stack.stop()
        for store in reversed(stores):
            store.stop()
    sink("[switchboard-dev] stopped; data kept in " + str(data_dir))


def _refuse_taken_ports(ports: DevPorts) -> None:
    wanted = list(ports.services.values())
    wanted += [] if os.environ.get("NATS_URL") else [ports.nats]
    wanted += [] if os.environ.get("DATABASE_URL") else [ports.postgres]
    taken = [port for port in wanted if port_in_use(port)]
    if taken:
        sys.exit(f"port(s) {', '.join(map(str, taken))} in use: is another `make dev` running?")


def _start_stores(
    data_dir: Path, ports: DevPorts, sink: Sink, started: list[NatsServer | PostgresServer]
) -> tuple[str, str]:
    """NATS and PostgreSQL from NATS_URL / DATABASE_URL, or embedded ones keeping data_dir."""
    nats_url = os.environ.get("NATS_URL")
    if not nats_url:
        nats = NatsServer(data_dir / "nats", port=ports.nats, sink=sink)
        nats.start()
        started.append(nats)
        nats_url = nats.url
    database_url = os.environ.get("DATABASE_URL")
    if not database_url:
        postgres = PostgresServer(data_dir / "postgres", port=ports.postgres, sink=sink)
        postgres.start()
        started.append(postgres)
        postgres.create_database(DATABASE_NAME)
        database_url = postgres.dsn(DATABASE_NAME)
    return nats_url, database_url


def _supervise(stack: Stack, sink: Sink) -> None:
    """Wait for Ctrl-C; say so when a service exits on its own."""
    reported: set[str] = set()
    while True:
        time.sleep(1.0)
        for handle in stack.services.values():
            if not handle.process.running() and handle.label not in reported:
                reported.add(handle.label)
                sink(f"[switchboard-dev] {handle.label} has exited; see its log above")


def _print_summary(stack: Stack, data_dir: Path) -> None:
    gateway = stack["gateway"]
    rows = [
        "",
        "Switchboard is running:",
        f"  demo page        http://localhost:{gateway.port}/",
        f"  NATS             {stack.nats_url}",
        f"  PostgreSQL       {stack.database_url}",
    ]
    rows += [
        f"  {h.label:<16} {h.url}  (/healthz /readyz /metrics)" for h in stack.services.values()
    ]
    rows += [f"  data             {data_dir}", "Press Ctrl-C to stop everything.", ""]
    sys.stdout.write("\n".join(rows) + "\n")
    sys.stdout.flush()
