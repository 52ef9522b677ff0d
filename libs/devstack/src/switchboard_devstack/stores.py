"""Where tests get NATS and PostgreSQL from, in order: environment URLs, testcontainers when a
Docker daemon answers, the embedded binaries. Each run gets its own database and random ports.
"""

import contextlib
import os
import secrets
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


def docker_available() -> bool:
    try:
        import docker

        docker.from_env(timeout=2).ping()
    except Exception:
        return False
    return True


def source_summary() -> str:
    nats = f"${NATS_ENV}" if os.environ.get(NATS_ENV) else None
    database = f"${DATABASE_ENV}" if os.environ.get(DATABASE_ENV) else None
    fallback = "testcontainers" if docker_available() else "embedded binaries (no Docker daemon answers)"
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
        [str(postgres_bin_dir() / "psql"), server_dsn, "-v", "ON_ERROR_STOP=1", "-c", f'CREATE DATABASE "{name}"'],
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
            nats = NatsServer(scratch_dir("sb-nats-"), log_file=log_dir / "nats.log" if log_dir else None)
            nats.start()
            stack.callback(nats.stop)
            nats_url = nats.url
        server_dsn = os.environ.get(DATABASE_ENV)
        postgres: PostgresServer | None = None
        if not server_dsn and use_docker:
            server_dsn = stack.enter_context(_postgres_container())
        if not server_dsn:
            postgres = PostgresServer(
                scratch_dir("sb-pg-") / "data", log_file=log_dir / "postgres.log" if log_dir else None
            )
            postgres.start()
            stack.callback(postgres.stop)
            server_dsn = postgres.dsn()
        yield Stores(nats_url, _fresh_database(server_dsn), nats, postgres)


@contextlib.contextmanager
def _nats_container() -> Iterator[str]:
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import wait_for_logs

    with DockerContainer("nats:2.12-alpine").with_command("-js").with_exposed_ports(4222) as container:
        wait_for_logs(container, "Server is ready")
        yield f"nats://{container.get_container_host_ip()}:{container.get_exposed_port(4222)}"


@contextlib.contextmanager
def _postgres_container() -> Iterator[str]:
    from testcontainers.postgres import PostgresContainer

    with PostgresContainer("postgres:15-alpine", username="postgres", password="postgres") as container:
        host, port = container.get_container_host_ip(), container.get_exposed_port(5432)
        yield f"postgresql://postgres:postgres@{host}:{port}/postgres"
