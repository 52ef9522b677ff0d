"""The Kubernetes v1.20.2 server binaries, built once from Debian's ``kubernetes`` source package.

No binary package and no other reachable registry ships kube-apiserver, kubelet and friends, so
they are compiled from Debian bookworm's source with Debian's Go (about 6 minutes on 2 cores,
3.5 GB of disk at the peak) into ``<cache>/bin``; the source tree is removed afterwards. A
private apt configuration (its own ``deb-src`` list and lists folder) leaves the system's alone.
"""

import shutil
import subprocess
import time
from pathlib import Path

from switchboard_localkube.paths import Cache, log

__all__ = ["KUBE_SOURCE_VERSION", "KUBE_VERSION", "SERVER_BINARIES", "build_kubernetes"]

KUBE_VERSION = "v1.20.2"
KUBE_SOURCE_VERSION = "1.20.5+really1.20.2-1.1+deb12u1"
SERVER_BINARIES = (
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubelet",
    "kube-proxy",
)
BUILD_PACKAGES = (
    "golang-go",
    "golang-github-modern-go-reflect2-dev",
    "dpkg-dev",
    "rsync",
    "gcc",
    "libc6-dev",
)
# The vendored reflect2 v1.0.1 crashes under Go >= 1.18; Debian's 1.0.2 has the same API.
REFLECT2 = Path("/usr/share/gocode/src/github.com/modern-go/reflect2")
APT_SOURCES = (
    "deb-src http://deb.debian.org/debian bookworm main\n"
    "deb-src http://deb.debian.org/debian bookworm-updates main\n"
    "deb-src http://deb.debian.org/debian-security bookworm-security main\n"
)


def _private_apt(cache: Cache) -> list[str]:
    root = cache.root / "apt"
    parts = root / "sources.list.d"
    lists = root / "lists"
    (lists / "partial").mkdir(parents=True, exist_ok=True)
    parts.mkdir(parents=True, exist_ok=True)
    (root / "sources.list").write_text(APT_SOURCES, encoding="utf-8")
    return [
        "-o", f"Dir::Etc::SourceList={root / 'sources.list'}",
        "-o", f"Dir::Etc::SourceParts={parts}",
        "-o", f"Dir::State::Lists={lists}",
    ]  # fmt: skip


def _fetch_source(cache: Cache, work: Path) -> Path:
    apt = _private_apt(cache)
    subprocess.run(["apt-get", *apt, "-q", "update"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(
        ["apt-get", *apt, "-q", "source", "--download-only", f"kubernetes={KUBE_SOURCE_VERSION}"],
        check=True,
        cwd=work,
        stdout=subprocess.DEVNULL,
    )
    dsc = next(work.glob("kubernetes_*.dsc"))
    tree = work / "src"
    subprocess.run(
        ["dpkg-source", "--no-check", "-x", str(dsc), str(tree)],
        check=True,
        cwd=work,
        stdout=subprocess.DEVNULL,
    )
    return tree


def _build_tree(tree: Path, cache: Cache) -> None:
    vendored = tree / "vendor" / "github.com" / "modern-go" / "reflect2"
    shutil.rmtree(vendored)
    shutil.copytree(REFLECT2, vendored, ignore=shutil.ignore_patterns("*_test.go"))
    version_file = tree / ".kube-version"
    version_file.write_text(
        "KUBE_GIT_COMMIT=faecb196815e248d3ecfb03c680a4507229c2a56\n"
        "KUBE_GIT_TREE_STATE=clean\n"
        f"KUBE_GIT_VERSION={KUBE_VERSION}\n"
        "KUBE_GIT_MAJOR=1\nKUBE_GIT_MINOR=20\n",
        encoding="utf-8",
    )
    env = {
        "PATH": "/usr/lib/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": str(cache.root / "gohome"),
        "GOPROXY": "off",
        "GOFLAGS": "-mod=vendor",
        "GO111MODULE": "on",
        "CGO_ENABLED": "0",
        "GOCACHE": str(cache.root / "gocache"),
        "KUBE_GIT_VERSION_FILE": str(version_file),
        "KUBE_BUILD_PLATFORMS": "linux/amd64",
    }
    what = " ".join(f"cmd/{name}" for name in SERVER_BINARIES)
    with (cache.logs / "kubernetes-build.log").open("w") as out:
        subprocess.run(
            ["make", f"WHAT={what}"], check=True, cwd=tree, env=env, stdout=out, stderr=out
        )
    built = tree / "_output" / "local" / "bin" / "linux" / "amd64"
    if not built.is_dir():
        built = tree / "_output" / "bin"
    for name in SERVER_BINARIES:
        shutil.copy2(built / name, cache.bin / name)
    subprocess.run(
        [
            "gcc", "-Os", "-static", "-DVERSION=v3.4-switchboard",
            "-o", str(cache.bin / "pause"), str(tree / "build" / "pause" / "linux" / "pause.c"),
        ],
        check=True,
    )  # fmt: skip


def build_kubernetes(cache: Cache) -> bool:
    """Build the server binaries and the pause binary unless cached; True when it built."""
    if all((cache.bin / name).is_file() for name in (*SERVER_BINARIES, "pause")):
        return False
    subprocess.run(
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", *BUILD_PACKAGES],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    started = time.monotonic()
    work = cache.root / "build"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        log(f"kubernetes {KUBE_VERSION}: fetching Debian's source {KUBE_SOURCE_VERSION}")
        tree = _fetch_source(cache, work)
        log(f"kubernetes {KUBE_VERSION}: building (log: {cache.logs / 'kubernetes-build.log'})")
        _build_tree(tree, cache)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log(f"kubernetes {KUBE_VERSION}: built in {time.monotonic() - started:.0f} s")
    return True
