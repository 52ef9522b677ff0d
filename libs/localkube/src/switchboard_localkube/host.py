"""What a cluster changes on the host, recorded before and undone after.

Every process is started here and stopped by its PID; sysctls, iptables chains, network
namespaces, mounts and folders outside the run directory are snapshotted at start so that
teardown removes exactly what appeared and restores what changed, and nothing else.
"""

import contextlib
import os
import re
import shlex
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from switchboard_localkube.paths import log

__all__ = [
    "HostSnapshot",
    "Process",
    "mounts_under",
    "remove_container_cgroups",
    "unmount_under",
    "wait_for",
]

# Set by kubelet (kernel defaults it wants) and kube-proxy (route_localnet for NodePorts).
SYSCTLS = (
    "net/ipv4/conf/all/route_localnet",
    "net/ipv4/ip_forward",
    "net/bridge/bridge-nf-call-iptables",
    "net/bridge/bridge-nf-call-ip6tables",
    "vm/overcommit_memory",
    "vm/panic_on_oom",
    "kernel/panic",
    "kernel/panic_on_oops",
    "kernel/keys/root_maxkeys",
    "kernel/keys/root_maxbytes",
)
TABLES = ("filter", "nat", "mangle", "raw")
NETNS_DIR = Path("/var/run/netns")
OUR_CHAINS = ("KUBE-",)
# Folders kubelet and the CNI plugins use whatever they are told (kubelet's device-plugin socket
# folder is /var/lib/kubelet/device-plugins whatever its --root-dir).
FIXED_DIRS = (
    Path("/var/log/pods"),
    Path("/var/log/containers"),
    Path("/var/lib/cni"),
    Path("/var/lib/kubelet"),
    Path("/usr/libexec/kubernetes"),
    NETNS_DIR,
)


@dataclass
class Process:
    """A child process with its log file; stopped by PID (TERM, then KILL)."""

    name: str
    popen: subprocess.Popen[bytes]
    log_file: IO[bytes]

    @classmethod
    def start(
        cls, name: str, argv: list[str], logs: Path, env: dict[str, str] | None = None
    ) -> "Process":
        log_file = (logs / f"{name}.log").open("ab")
        popen = subprocess.Popen(
            argv,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
        return cls(name, popen, log_file)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 15.0) -> None:
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)
        self.log_file.close()


def _read_sysctl(name: str) -> str | None:
    path = Path("/proc/sys") / name
    try:
        return path.read_text(encoding="ascii").strip()
    except OSError:
        return None


def _chains(binary: str, table: str) -> set[str]:
    result = subprocess.run(
        [f"{binary}-save", "-t", table], capture_output=True, text=True, check=False
    )
    return {line[1:].split()[0] for line in result.stdout.splitlines() if line.startswith(":")}


def mounts_under(root: Path) -> list[str]:
    """Mount points at or below ``root``, deepest first."""
    points = []
    prefix = str(root).rstrip("/") + "/"
    for line in Path("/proc/self/mountinfo").read_text(encoding="utf-8").splitlines():
        point = line.split()[4].replace("\\040", " ")
        if point == str(root) or point.startswith(prefix):
            points.append(point)
    return sorted(set(points), key=len, reverse=True)


def unmount_under(root: Path) -> int:
    count = 0
    for point in mounts_under(root):
        subprocess.run(["umount", "-l", point], check=False, capture_output=True)
        count += 1
    return count


@dataclass
class HostSnapshot:
    """The host's state before a cluster: what teardown must get back to."""

    sysctls: dict[str, str] = field(default_factory=dict)
    chains: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    netns: set[str] = field(default_factory=set)
    links: set[str] = field(default_factory=set)
    missing_dirs: list[Path] = field(default_factory=list)
    bridge: str = ""

    @classmethod
    def take(cls, bridge: str) -> "HostSnapshot":
        snap = cls(bridge=bridge)
        for name in SYSCTLS:
            value = _read_sysctl(name)
            if value is not None:
                snap.sysctls[name] = value
        for binary in ("iptables", "ip6tables"):
            for table in TABLES:
                snap.chains[(binary, table)] = _chains(binary, table)
        snap.netns = set(os.listdir(NETNS_DIR)) if NETNS_DIR.is_dir() else set()
        snap.links = set(os.listdir("/sys/class/net"))
        snap.missing_dirs = [path for path in FIXED_DIRS if not path.exists()]
        return snap

    def restore(self) -> list[str]:
        """Undo everything that differs from the snapshot; returns what was undone."""
        undone: list[str] = []
        undone += self._remove_netns()
        undone += self._remove_links()
        undone += self._remove_chains()
        for name, value in self.sysctls.items():
            if _read_sysctl(name) != value:
                (Path("/proc/sys") / name).write_text(value, encoding="ascii")
                undone.append(f"sysctl {name.replace('/', '.')} back to {value}")
        for path in self.missing_dirs:
            if path.exists():
                unmount_under(path)
                subprocess.run(["rm", "-rf", "--one-file-system", str(path)], check=False)
                undone.append(f"removed {path}")
        return undone

    def _remove_netns(self) -> list[str]:
        """New ``cni-*`` namespaces: containerd's, one per pod sandbox."""
        if not NETNS_DIR.is_dir():
            return []
        undone = []
        for name in sorted(set(os.listdir(NETNS_DIR)) - self.netns):
            if not name.startswith("cni-"):
                continue
            path = NETNS_DIR / name
            subprocess.run(["umount", "-l", str(path)], check=False, capture_output=True)
            with contextlib.suppress(OSError):
                path.unlink()
            undone.append(f"netns {name}")
        return undone

    def _remove_links(self) -> list[str]:
        """Our bridge and the veths on it (other engineers' interfaces are left alone)."""
        undone = []
        for name in sorted(set(os.listdir("/sys/class/net")) - self.links):
            master = Path("/sys/class/net") / name / "master"
            ours = name == self.bridge or (master.exists() and master.resolve().name == self.bridge)
            if not ours:
                continue
            subprocess.run(["ip", "link", "delete", name], check=False, capture_output=True)
            undone.append(f"link {name}")
        return undone

    def _remove_chains(self) -> list[str]:
        """New KUBE-* chains (kubelet's and kube-proxy's) and the rules that jump to them."""
        undone = []
        for (binary, table), before in self.chains.items():
            new = {c for c in _chains(binary, table) - before if c.startswith(OUR_CHAINS)}
            if not new:
                continue
            # Rules in the chains that stay (built-in or not ours) jumping to a new chain.
            dump = subprocess.run(
                [f"{binary}-save", "-t", table], capture_output=True, text=True, check=False
            ).stdout
            for line in dump.splitlines():
                if not line.startswith("-A "):
                    continue
                words = shlex.split(line)
                target = words[words.index("-j") + 1] if "-j" in words else None
                if words[1] not in new and target in new:
                    subprocess.run(
                        [binary, "-t", table, "-D", *words[1:]], check=False, capture_output=True
                    )
            for chain in new:
                subprocess.run([binary, "-t", table, "-F", chain], check=False, capture_output=True)
            for chain in new:
                subprocess.run([binary, "-t", table, "-X", chain], check=False, capture_output=True)
            undone.append(
                f"{binary} -t {table}: {len(new)} chains ({', '.join(sorted(new)[:4])}...)"
            )
        return undone

    def leftovers(self) -> list[str]:
        """What still differs from the snapshot (empty: the host is as found)."""
        left = []
        for (binary, table), before in self.chains.items():
            new = _chains(binary, table) - before
            left += [f"{binary} {table} {c}" for c in sorted(new) if c.startswith(OUR_CHAINS)]
        if NETNS_DIR.is_dir():
            new_ns = set(os.listdir(NETNS_DIR)) - self.netns
            left += [f"netns {n}" for n in sorted(new_ns) if n.startswith("cni-")]
        if (Path("/sys/class/net") / self.bridge).exists():
            left.append(f"link {self.bridge}")
        left += [f"sysctl {n}" for n, v in self.sysctls.items() if _read_sysctl(n) != v]
        left += [f"dir {p}" for p in self.missing_dirs if p.exists()]
        return left


def wait_for(what: str, check: Callable[[], bool], timeout: float, interval: float = 0.5) -> float:
    """Poll ``check`` until it is true; the seconds it took. Raises TimeoutError naming ``what``."""
    started = time.monotonic()
    while True:
        with contextlib.suppress(Exception):
            if check():
                return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"{what}: not within {timeout:.0f} s")
        time.sleep(interval)


_HEX = re.compile(r"^[0-9a-f]{64}$")


def remove_container_cgroups(ids: set[str]) -> int:
    """rmdir the (empty) cgroups runc made for these container ids, in every v1 hierarchy."""
    removed = 0
    root = Path("/sys/fs/cgroup")
    for hierarchy in root.iterdir():
        # containerd's default cgroup path is /k8s.io/<id> (namespace/id).
        for parent in (hierarchy, hierarchy / "k8s.io"):
            if not parent.is_dir():
                continue
            for child in parent.iterdir():
                if child.is_dir() and _HEX.match(child.name) and child.name in ids:
                    with contextlib.suppress(OSError):
                        child.rmdir()
                        removed += 1
        with contextlib.suppress(OSError):
            (hierarchy / "k8s.io").rmdir()  # only when empty: another containerd may use it
    if removed:
        log(f"removed {removed} container cgroups")
    return removed
