"""An embedded PostgreSQL on a loopback TCP port, from the binaries of the ``pgserver`` package.

PostgreSQL refuses to run as root; as root we run it as an unprivileged system user.
"""

import contextlib
import importlib.metadata
import importlib.util
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from switchboard_devstack.ports import free_port
from switchboard_devstack.process import ManagedProcess, Sink

__all__ = ["PostgresServer", "postgres_bin_dir"]

SYSTEM_USER = "switchboard-pg"
SHARED_INSTALL_ROOT = Path("/var/cache/switchboard")  # root-owned, not world-writable


def _packaged_install() -> Path:
    """The PostgreSQL install shipped in the ``pgserver`` wheel (found without importing the
    package: its import has side effects we do not want)."""
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the pgserver package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall"


def postgres_bin_dir() -> Path:
    """Where to run PostgreSQL's binaries from.

    As root, the server runs as an unprivileged user who may not be able to reach a virtual
    environment inside a private folder (a fresh clone under ``mktemp -d``, say); it then runs
    from a world-readable copy, made once per pgserver version. The copy keeps the wheel's layout
    (``pgserver/pginstall`` beside ``pgserver.libs``): the binaries find their libraries by a
    relative RPATH.
    """
    install = _packaged_install()
    if os.geteuid() != 0:
        return install / "bin"
    shared = SHARED_INSTALL_ROOT / f"pgserver-{importlib.metadata.version('pgserver')}"
    if not (shared / "pgserver" / "pginstall" / "bin" / "postgres").exists():
        SHARED_INSTALL_ROOT.mkdir(mode=0o755, parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=SHARED_INSTALL_ROOT, prefix=".staging-"))
        site_packages = install.parent.parent
        shutil.copytree(install, staging / "pgserver" / "pginstall", symlinks=True)
        shutil.copytree(site_packages / "pgserver.libs", staging / "pgserver.libs", symlinks=True)
        for path in [staging, *staging.rglob("*")]:
            if path.is_symlink():
                continue
            mode = path.stat().st_mode
            path.chmod(mode | 0o755 if path.is_dir() or mode & 0o100 else mode | 0o644)
        with contextlib.suppress(OSError):  # another process may have won the race
            staging.rename(shared)
        shutil.rmtree(staging, ignore_errors=True)
    return shared / "pgserver" / "pginstall" / "bin"


def _run_as() -> str | None:
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                SYSTEM_USER,
            ],
            check=True,
            capture_output=True,
        )
    return SYSTEM_USER


class PostgresServer:
    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        sink: Sink | None = None,
        log_file: Path | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self._user = _run_as()
        self._sink = sink
        self._log_file = log_file
        self._bin = postgres_bin_dir()
        self._process = ManagedProcess(
            "postgres",
            [
                str(self._bin / "postgres"),
                "-D",
                str(data_dir),
                "-p",
                str(self.port),
                "-h",
                "127.0.0.1",
                "-k",
                str(data_dir),
                "-c",
                "fsync=on",
                "-c",
                "max_connections=200",
            ],
            sink=sink,
            log_file=log_file,
            user=self._user,
        )

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def running(self) -> bool:
        return self._process.running()

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _initdb(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._user is not None:
            shutil.chown(self.data_dir, self._user)
        os.chmod(self.data_dir, 0o700)
        subprocess.run(
            [
                str(self._bin / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-instructions",
            ],
            check=True,
            capture_output=True,
            user=self._user,
        )

    def start(self, timeout: float = 30.0) -> None:
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        self._process.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._process.running():
                raise RuntimeError("postgres exited during start-up; see its log")
            ready = subprocess.run(
                [
                    str(self._bin / "pg_isready"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(self.port),
                    "-U",
                    "postgres",
                ],
                capture_output=True,
                check=False,
            )
            if ready.returncode == 0:
                return
            time.sleep(0.1)
        raise TimeoutError(f"postgres was not ready within {timeout} s")

    def create_database(self, name: str) -> None:
        """Create ``name`` unless it exists."""
        psql = [str(self._bin / "psql"), self.dsn(), "-tA", "-v", "ON_ERROR_STOP=1"]
        exists = subprocess.run(
            [*psql, "-c", f"SELECT 1 FROM pg_database WHERE datname = '{name}'"],  # noqa: S608
            capture_output=True,
            text=True,
            check=True,
        )
        if exists.stdout.strip() != "1":
            subprocess.run(
                [*psql, "-c", f'CREATE DATABASE "{name}"'], capture_output=True, check=True
            )

    def stop(self) -> None:
        # SIGINT is PostgreSQL's "fast" shutdown: clients are cut off, data is flushed.
        self._process.stop(signum=2)

    def kill(self) -> None:
        self._process.kill()
