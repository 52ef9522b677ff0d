"""Where tests get NATS and PostgreSQL from, in order: environment URLs, testcontainers when a
Docker daemon answers, the embedded binaries. Each run gets its own database and random ports.
"""

import contextlib
import os
import secrets
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from switchboard_devstack.nats_server import NatsServer
from switchboard_devstack.postgres_server import PostgresServer, postgres_bin_dir

__all__ = ["Stores", "docker_available", "open_stores", "scratch_dir", "source_summary"]

NATS_ENV = "TEST_NATS_URL"
DATABASE_ENV = "TEST_DATABASE_URL"


@dataclass
class Stores:
    nats_url: str
    database_url: str
    nats: NatsServer | None = None
    postgres: PostgresServer | None = None

    def another_database(self) -> str:
        """A fresh database on the same server: for a stack on a NATS of its own (a
        notification's cursor is its NOTIFY position, so a database must follow one stream)."""
        base, _, _ = self.database_url.rpartition("/")
        return _fresh_database(f"{base}/postgres")


def docker_available() -> bool:
    """Whether a Docker daemon answers ``/_ping`` on its socket (``DOCKER_HOST`` or the default)."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        if host.startswith("unix://"):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            address: str | tuple[str, int] = host.removeprefix("unix://")
        elif host.startswith("tcp://"):
            name, _, port = host.removeprefix("tcp://").partition(":")
            sock, address = socket.socket(), (name, int(port or 2375))
        else:
            return False
        with sock:
            sock.settimeout(2)
            sock.connect(address)
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            status_line = sock.recv(64).split(b"\r\n", 1)[0]
            return status_line.startswith(b"HTTP/1.") and status_line.split()[1:2] == [b"200"]
    except OSError:
        return False


def source_summary() -> str:
    nats = f"${NATS_ENV}" if os.environ.get(NATS_ENV) else None
    database = f"${DATABASE_ENV}" if os.environ.get(DATABASE_ENV) else None
    fallback = (
        "testcontainers" if docker_available() else "embedded binaries (no Docker daemon answers)"
    )
    return f"NATS from {nats or fallback}; PostgreSQL from {database or fallback}"


def scratch_dir(prefix: str) -> Path:
    """A temporary folder the unprivileged PostgreSQL user can traverse."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


def _fresh_database(server_dsn: str) -> str:
    """Create a database of its own for this run on a shared server; return its DSN."""
    name = f"switchboard_test_{secrets.token_hex(4)}"
    subprocess.run(
        [
            str(postgres_bin_dir() / "psql"),
            server_dsn,
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            f'CREATE DATABASE "{name}"',
        ],
        check=True,
        capture_output=True,
    )
    base, _, _ = server_dsn.rpartition("/")
    return f"{base}/{name}"


@contextlib.contextmanager
def open_stores(log_dir: Path | None = None) -> Iterator[Stores]:
    with contextlib.ExitStack() as stack:
        use_docker = docker_available()
        nats_url = os.environ.get(NATS_ENV)
        nats: NatsServer | None = None
        if not nats_url and use_docker:
            nats_url = stack.enter_context(_nats_container())
        if not nats_url:
            nats = NatsServer(
                scratch_dir("sb-nats-"), log_file=log_dir / "nats.log" if log_dir else None
            )
            nats.start()
            stack.callback(nats.stop)
            nats_url = nats.url
        server_dsn = os.environ.get(DATABASE_ENV)
        postgres: PostgresServer | None = None
        if not server_dsn and use_docker:
            server_dsn = stack.enter_context(_postgres_container())
        if not server_dsn:
            postgres = PostgresServer(
                scratch_dir("sb-pg-") / "data",
                log_file=log_dir / "postgres.log" if log_dir else None,
            )
            postgres.start()
            stack.callback(postgres.stop)
            server_dsn = postgres.dsn()
        yield Stores(nats_url, _fresh_database(server_dsn), nats, postgres)


@contextlib.contextmanager
def _nats_container() -> Iterator[str]:
    # Imported only when Docker answers: testcontainers is heavy and unused otherwise.
    from testcontainers.core.container import DockerContainer  # noqa: PLC0415
    from testcontainers.core.waiting_utils import wait_for_logs  # noqa: PLC0415

    with (
        DockerContainer("nats:2.12-alpine")
        .with_command("-js")
        .with_exposed_ports(4222) as container
    ):
        wait_for_logs(container, "Server is ready")
        yield f"nats://{container.get_container_host_ip()}:{container.get_exposed_port(4222)}"


@contextlib.contextmanager
def _postgres_container() -> Iterator[str]:
    from testcontainers.postgres import PostgresContainer  # noqa: PLC0415

    throwaway = "postgres"
    with PostgresContainer(
        "postgres:15-alpine", username="postgres", password=throwaway
    ) as container:
        host, port = container.get_container_host_ip(), container.get_exposed_port(5432)
        yield f"postgresql://postgres:postgres@{host}:{port}/postgres"
