"""A one-node Kubernetes v1.20 on 127.0.0.1: etcd, the control plane, containerd, kubelet,
kube-proxy and a cluster DNS, started as child processes and taken down again.

The node is called ``localhost`` (its IP cannot be loopback; the API server reaches the kubelet
by hostname). Pods sit on a bridge of our own (``sbk8s0``, 10.244.0.0/16) that routes only to the
pod and service ranges. Cluster DNS is dnsmasq on the bridge's address, answering
``<service>.<namespace>.svc.cluster.local`` from the Services' ClusterIPs (kept current by a
thread that watches them); kubelet's ``clusterDNS`` points pods to it.
"""

import contextlib
import json
import os
import shutil
import signal
import subprocess
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from switchboard_localkube.host import (
    HostSnapshot,
    Process,
    remove_container_cgroups,
    unmount_under,
    wait_for,
)
from switchboard_localkube.paths import Cache, log
from switchboard_localkube.pki import make_pki

__all__ = ["BRIDGE", "CLUSTER_DOMAIN", "PAUSE_IMAGE", "Cluster"]

BRIDGE = "sbk8s0"
POD_CIDR = "10.244.0.0/16"
BRIDGE_IP = "10.244.0.1"
SERVICE_CIDR = "10.96.0.0/16"
CLUSTER_DOMAIN = "cluster.local"
PAUSE_IMAGE = "localhost/switchboard/pause:3.4"
APISERVER_PORT = 16443
ETCD_CLIENT_PORT = 23790
ETCD_PEER_PORT = 23800
RUNTIME_PACKAGES = (
    "etcd-server", "containerd", "runc", "containernetworking-plugins", "dnsmasq-base",
    "iptables", "openssl", "conntrack", "socat", "podman", "debootstrap",
)  # fmt: skip
APT_BINARIES = (
    "etcd",
    "containerd",
    "runc",
    "dnsmasq",
    "iptables",
    "openssl",
    "podman",
    "debootstrap",
)


def install_packages() -> None:
    """Debian's packages for the cluster and the image builds, when some are missing."""
    if all(shutil.which(name) for name in APT_BINARIES) and Path("/usr/lib/cni/bridge").exists():
        return
    log("installing Debian packages: " + " ".join(RUNTIME_PACKAGES))
    subprocess.run(["apt-get", "update", "-q"], check=False, stdout=subprocess.DEVNULL)
    subprocess.run(
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", *RUNTIME_PACKAGES],
        check=True,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )


class Cluster:
    """Start with :meth:`up`, stop with :meth:`down` (which also runs when ``up`` fails)."""

    def __init__(self, cache: Cache, run_dir: Path | None = None) -> None:
        self.cache = cache
        self.run = run_dir or Path(os.environ.get("SWITCHBOARD_K8S_RUN", "/run/switchboard-k8s"))
        self.logs = self.run / "logs"
        self.kubeconfig = self.run / "kubeconfig"
        self.processes: list[Process] = []
        self.snapshot: HostSnapshot | None = None
        self.timings: dict[str, float] = {}
        self.undone: list[str] = []
        self.left: list[str] = []
        self._dns_stop = threading.Event()
        self._dns_thread: threading.Thread | None = None
        self._dnsmasq: Process | None = None
        self._kubectl = str(cache.tools / "kubectl")

    # --- start -------------------------------------------------------------------------------

    def up(self) -> None:
        started = time.monotonic()
        if self.run.exists():
            raise RuntimeError(f"{self.run} exists: a cluster runs, or one was not taken down")
        self.snapshot = HostSnapshot.take(BRIDGE)
        for folder in (self.run, self.logs):
            folder.mkdir(parents=True)
        (self.run / "snapshot.pid").write_text(str(os.getpid()), encoding="ascii")
        try:
            self._network()
            pki = make_pki(self.run / "pki")
            self._write_kubeconfig(pki)
            self._etcd()
            self._apiserver()
            self._controllers()
            self._containerd()
            self._dns()
            self._kubelet()
            self._kube_proxy()
            self._wait_node_ready()
        except BaseException:
            self.down()
            raise
        self.timings["cluster up"] = time.monotonic() - started
        log(f"cluster up in {self.timings['cluster up']:.1f} s (kubeconfig {self.kubeconfig})")

    def _start(self, name: str, argv: list[str]) -> Process:
        process = Process.start(name, argv, self.logs)
        self.processes.append(process)
        return process

    def _bin(self, name: str) -> str:
        return str(self.cache.bin / name)

    def _network(self) -> None:
        subprocess.run(["ip", "link", "add", BRIDGE, "type", "bridge"], check=True)
        subprocess.run(["ip", "addr", "add", f"{BRIDGE_IP}/16", "dev", BRIDGE], check=True)
        subprocess.run(["ip", "link", "set", BRIDGE, "up"], check=True)
        Path("/proc/sys/net/ipv4/ip_forward").write_text("1", encoding="ascii")
        cni = self.run / "cni"
        cni.mkdir()
        conf = {
            "cniVersion": "0.4.0",
            "name": "switchboard",
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": BRIDGE,
                    "isGateway": True,
                    "ipMasq": False,
                    "hairpinMode": True,
                    "ipam": {
                        "type": "host-local",
                        "ranges": [[{"subnet": POD_CIDR, "gateway": BRIDGE_IP}]],
                        "routes": [{"dst": POD_CIDR}, {"dst": SERVICE_CIDR}],
                        "dataDir": str(self.run / "cni-ipam"),
                    },
                },
            ],
        }
        (cni / "10-switchboard.conflist").write_text(json.dumps(conf, indent=2), encoding="utf-8")

    def _write_kubeconfig(self, pki: dict[str, Path]) -> None:
        self.token = pki["token"].read_text(encoding="ascii").strip()
        self.ca = pki["ca"]
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "local",
                    "cluster": {
                        "server": f"https://127.0.0.1:{APISERVER_PORT}",
                        "certificate-authority": str(pki["ca"]),
                    },
                }
            ],
            "users": [{"name": "admin", "user": {"token": self.token}}],
            "contexts": [{"name": "local", "context": {"cluster": "local", "user": "admin"}}],
            "current-context": "local",
        }
        self.kubeconfig.write_text(json.dumps(config, indent=2), encoding="utf-8")
        self.pki = pki

    def _etcd(self) -> None:
        data = self.run / "etcd"
        self._start(
            "etcd",
            [
                "etcd", "--name=localkube", f"--data-dir={data}",
                f"--listen-client-urls=http://127.0.0.1:{ETCD_CLIENT_PORT}",
                f"--advertise-client-urls=http://127.0.0.1:{ETCD_CLIENT_PORT}",
                f"--listen-peer-urls=http://127.0.0.1:{ETCD_PEER_PORT}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{ETCD_PEER_PORT}",
                f"--initial-cluster=localkube=http://127.0.0.1:{ETCD_PEER_PORT}",
                "--unsafe-no-fsync", "--quota-backend-bytes=2147483648",
            ],
        )  # fmt: skip
        took = wait_for(
            "etcd healthy",
            lambda: _get(f"http://127.0.0.1:{ETCD_CLIENT_PORT}/health") is not None,
            30,
        )
        log(f"etcd healthy in {took:.1f} s")

    def _apiserver(self) -> None:
        pki = self.pki
        self._start(
            "kube-apiserver",
            [
                self._bin("kube-apiserver"),
                f"--etcd-servers=http://127.0.0.1:{ETCD_CLIENT_PORT}",
                "--bind-address=127.0.0.1", f"--secure-port={APISERVER_PORT}",
                "--advertise-address=127.0.0.1", "--insecure-port=0",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--service-node-port-range=30000-32767",
                f"--tls-cert-file={pki['apiserver']}",
                f"--tls-private-key-file={pki['apiserver_key']}",
                f"--client-ca-file={pki['ca']}", f"--token-auth-file={pki['tokens']}",
                "--authorization-mode=RBAC",
                f"--service-account-key-file={pki['sa_pub']}",
                f"--service-account-signing-key-file={pki['sa_key']}",
                "--service-account-issuer=https://kubernetes.default.svc",
                f"--kubelet-client-certificate={pki['client']}",
                f"--kubelet-client-key={pki['client_key']}",
                "--kubelet-preferred-address-types=Hostname,InternalIP",
                "--allow-privileged=true", "--event-ttl=1h", "--profiling=false",
                "--feature-gates=TTLAfterFinished=true",
            ],
        )  # fmt: skip
        took = wait_for("kube-apiserver /readyz", lambda: self._api_get("/readyz") == "ok", 90)
        log(f"kube-apiserver ready in {took:.1f} s")

    def _controllers(self) -> None:
        pki = self.pki
        self._start(
            "kube-controller-manager",
            [
                self._bin("kube-controller-manager"), f"--kubeconfig={self.kubeconfig}",
                f"--service-account-private-key-file={pki['sa_key']}",
                f"--root-ca-file={pki['ca']}", "--leader-elect=false",
                "--bind-address=127.0.0.1", "--port=0", "--use-service-account-credentials=false",
                "--controllers=*,-nodeipam,-csrsigning,-csrapproving,-csrcleaner",
                "--feature-gates=TTLAfterFinished=true",
                f"--flex-volume-plugin-dir={self.run / 'volume-plugins'}",
            ],
        )  # fmt: skip
        self._start(
            "kube-scheduler",
            [
                self._bin("kube-scheduler"), f"--kubeconfig={self.kubeconfig}",
                "--leader-elect=false", "--bind-address=127.0.0.1", "--port=0",
            ],
        )  # fmt: skip

    @property
    def containerd_root(self) -> Path:
        """Kept in the cache: the imported images (and their unpacked layers) outlive a run;
        every container is deleted at teardown."""
        return self.cache.root / "containerd"

    @property
    def containerd_socket(self) -> Path:
        return self.run / "containerd" / "containerd.sock"

    def _containerd(self) -> None:
        base = self.run / "containerd"
        base.mkdir()
        self.containerd_root.mkdir(parents=True, exist_ok=True)
        config = f"""version = 2
root = "{self.containerd_root}"
state = "{base / "state"}"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "{self.containerd_socket}"
[plugins."io.containerd.internal.v1.opt"]
  path = "{base / "opt"}"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  restrict_oom_score_adj = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "/usr/sbin/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{self.run / "cni"}"
"""
        (base / "config.toml").write_text(config, encoding="utf-8")
        self._start("containerd", ["containerd", "--config", str(base / "config.toml")])
        wait_for("containerd socket", self.containerd_socket.exists, 30)

    def ctr(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ctr", "--address", str(self.containerd_socket), "-n", "k8s.io", *args],
            check=check,
            capture_output=True,
            text=True,
        )

    def import_images(self, archives: list[Path]) -> None:
        """``ctr images import`` of each archive that is not the one imported last time (archive
        names carry the hash of their inputs; the tags point to what was imported last, so
        the record is that run's archives only; it lives with containerd's root)."""
        started = time.monotonic()
        record = self.containerd_root / "switchboard-imported"
        last = set(record.read_text(encoding="utf-8").split()) if record.exists() else set()
        record.unlink(missing_ok=True)
        fresh = [archive for archive in archives if archive.name not in last]
        for archive in fresh:
            self.ctr("images", "import", "--all-platforms", str(archive))
        record.write_text("\n".join(sorted(a.name for a in archives)) + "\n", encoding="utf-8")
        self.timings["images imported"] = time.monotonic() - started
        log(
            f"{len(fresh)} of {len(archives)} image archives imported into containerd"
            f" in {self.timings['images imported']:.1f} s"
        )

    def _dns(self) -> None:
        dns = self.run / "dns"
        dns.mkdir()
        (dns / "hosts").write_text("", encoding="utf-8")
        (self.run / "resolv.conf").write_text(f"nameserver {BRIDGE_IP}\n", encoding="ascii")
        self._dnsmasq = self._start(
            "dnsmasq",
            [
                "dnsmasq", "--keep-in-foreground", "--no-daemon", "--log-facility=-",
                f"--listen-address={BRIDGE_IP}", "--bind-interfaces", "--port=53",
                "--no-resolv", "--no-hosts", "--no-poll", f"--addn-hosts={dns / 'hosts'}",
                f"--local=/{CLUSTER_DOMAIN}/", "--domain-needed", "--cache-size=0",
                f"--pid-file={dns / 'dnsmasq.pid'}", "--user=root", "--except-interface=lo",
            ],
        )  # fmt: skip
        self._dns_thread = threading.Thread(
            target=self._sync_dns, name="localkube-dns", daemon=True
        )
        self._dns_thread.start()

    def _sync_dns(self) -> None:
        """Keep dnsmasq's hosts file equal to the Services' names and ClusterIPs."""
        hosts = self.run / "dns" / "hosts"
        last = ""
        while not self._dns_stop.wait(1.0):
            try:
                listing = json.loads(self._api_get("/api/v1/services") or "{}")
            except (OSError, ValueError):
                continue
            lines = []
            for item in listing.get("items", []):
                ip = item.get("spec", {}).get("clusterIP")
                if not ip or ip == "None":
                    continue
                meta = item["metadata"]
                lines.append(f"{ip} {meta['name']}.{meta['namespace']}.svc.{CLUSTER_DOMAIN}")
            text = "\n".join(sorted(lines)) + "\n"
            if text != last and self._dnsmasq is not None and self._dnsmasq.alive():
                hosts.write_text(text, encoding="utf-8")
                self._dnsmasq.popen.send_signal(signal.SIGHUP)
                last = text

    def _kubelet(self) -> None:
        root = self.run / "kubelet"
        root.mkdir()
        config = {
            "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "kind": "KubeletConfiguration",
            "address": "127.0.0.1",
            "port": 10250,
            "readOnlyPort": 0,
            "healthzBindAddress": "127.0.0.1",
            "authentication": {"anonymous": {"enabled": True}, "webhook": {"enabled": False}},
            "authorization": {"mode": "AlwaysAllow"},
            "cgroupDriver": "cgroupfs",
            "cgroupsPerQOS": False,
            "enforceNodeAllocatable": [],
            "failSwapOn": False,
            "clusterDNS": [BRIDGE_IP],
            "clusterDomain": CLUSTER_DOMAIN,
            "resolvConf": str(self.run / "resolv.conf"),
            "makeIPTablesUtilChains": False,
            "serializeImagePulls": False,
            "imageGCHighThresholdPercent": 100,
            "evictionHard": {
                "memory.available": "100Mi",
                "nodefs.available": "1%",
                "imagefs.available": "1%",
                "nodefs.inodesFree": "1%",
            },
            "volumeStatsAggPeriod": "0s",
        }
        (root / "config.json").write_text(json.dumps(config), encoding="utf-8")
        # kubelet takes YAML; JSON is YAML.
        self._start(
            "kubelet",
            [
                self._bin("kubelet"), f"--config={root / 'config.json'}",
                f"--kubeconfig={self.kubeconfig}", "--container-runtime=remote",
                f"--container-runtime-endpoint=unix://{self.containerd_socket}",
                f"--image-service-endpoint=unix://{self.containerd_socket}",
                "--hostname-override=localhost", f"--root-dir={root}", f"--cert-dir={root / 'pki'}",
                f"--pod-infra-container-image={PAUSE_IMAGE}", "--runtime-request-timeout=10m",
                f"--volume-plugin-dir={self.run / 'volume-plugins'}",
            ],
        )  # fmt: skip

    def _kube_proxy(self) -> None:
        self._start(
            "kube-proxy",
            [
                self._bin("kube-proxy"), f"--kubeconfig={self.kubeconfig}", "--proxy-mode=iptables",
                "--hostname-override=localhost", f"--cluster-cidr={POD_CIDR}", "--masquerade-all",
                "--conntrack-max-per-core=0", "--metrics-bind-address=127.0.0.1:10249",
                "--healthz-bind-address=127.0.0.1:10256",
            ],
        )  # fmt: skip

    def _wait_node_ready(self) -> None:
        def ready() -> bool:
            node = json.loads(self._api_get("/api/v1/nodes/localhost") or "{}")
            conditions = node.get("status", {}).get("conditions", [])
            return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

        took = wait_for("node localhost Ready", ready, 120, interval=1.0)
        log(f"node Ready after {took:.1f} s")

    # --- use ---------------------------------------------------------------------------------

    def _api_get(self, path: str) -> str | None:
        import ssl  # noqa: PLC0415 - only the API calls need it

        context = ssl.create_default_context(cafile=str(self.ca))
        request = urllib.request.Request(
            f"https://127.0.0.1:{APISERVER_PORT}{path}",
            headers={"Authorization": f"Bearer {self.token}"},
        )
        with urllib.request.urlopen(request, timeout=5, context=context) as response:  # noqa: S310
            return str(response.read().decode())

    def kubectl(self, *args: str, check: bool = True, timeout: float = 600) -> str:
        result = subprocess.run(
            [self._kubectl, f"--kubeconfig={self.kubeconfig}", *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise RuntimeError(
                f"kubectl {' '.join(args)}: {result.stderr.strip() or result.stdout.strip()}"
            )
        return result.stdout

    def kubectl_json(self, *args: str) -> Any:
        return json.loads(self.kubectl(*args, "-o", "json"))

    def node_ip(self) -> str:
        node = self.kubectl_json("get", "node", "localhost")
        for address in node["status"]["addresses"]:
            if address["type"] == "InternalIP":
                return str(address["address"])
        raise RuntimeError("node localhost has no InternalIP")

    # --- stop --------------------------------------------------------------------------------

    def down(self) -> list[str]:
        """Stop everything started, undo every host change; returns what is still left (none)."""
        started = time.monotonic()
        self._dns_stop.set()
        if self._dns_thread is not None:
            self._dns_thread.join(5)
        by_name = {p.name: p for p in self.processes}
        for name in ("kubelet", "kube-proxy", "kube-scheduler", "kube-controller-manager"):
            if name in by_name:
                by_name[name].stop()
        container_ids: set[str] = set()
        if "containerd" in by_name and by_name["containerd"].alive():
            container_ids = self._remove_containers()
        for name in ("containerd", "dnsmasq", "kube-apiserver", "etcd"):
            if name in by_name:
                by_name[name].stop()
        self._kill_shims()
        remove_container_cgroups(container_ids)
        if (self.cache.bin / "kube-proxy").exists():
            subprocess.run(
                [self._bin("kube-proxy"), "--cleanup"], capture_output=True, check=False, timeout=60
            )
        unmounted = unmount_under(self.run) + unmount_under(self.containerd_root)
        for stale in ("sandboxes", "containers"):
            shutil.rmtree(
                self.containerd_root / "io.containerd.grpc.v1.cri" / stale, ignore_errors=True
            )
        undone = self.snapshot.restore() if self.snapshot else []
        if unmounted:
            undone.append(f"{unmounted} mounts under {self.run}")
        if self.run.exists():
            keep = self.cache.logs / "last-run"
            shutil.rmtree(keep, ignore_errors=True)
            if self.logs.exists():
                shutil.copytree(self.logs, keep)
            subprocess.run(["rm", "-rf", "--one-file-system", str(self.run)], check=False)
        left = self.snapshot.leftovers() if self.snapshot else []
        left += [f"process {p.name} ({p.pid})" for p in self.processes if p.alive()]
        left += [f"shim {pid}" for pid in self._shim_pids()]
        if self.run.exists():
            left.append(f"folder {self.run}")
        self.timings["cluster down"] = time.monotonic() - started
        self.undone, self.left = undone, left
        log(
            f"cluster down in {self.timings['cluster down']:.1f} s; undone: "
            + ("; ".join(undone) or "nothing")
            + "; left on the host: "
            + ("; ".join(left) or "nothing")
        )
        return left

    def _remove_containers(self) -> set[str]:
        ids = set(self.ctr("containers", "list", "-q", check=False).stdout.split())
        for container in ids:
            self.ctr("tasks", "kill", "-s", "SIGKILL", container, check=False)
        deadline = time.monotonic() + 15
        for container in ids:
            while time.monotonic() < deadline:
                if self.ctr("tasks", "delete", container, check=False).returncode == 0:
                    break
                if "not found" in self.ctr("tasks", "ps", container, check=False).stderr:
                    break
                time.sleep(0.2)
            self.ctr("containers", "delete", container, check=False)
        return ids

    def _shim_pids(self) -> list[int]:
        address = str(self.containerd_socket)
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                argv = (entry / "cmdline").read_bytes().split(b"\0")
                if (
                    argv
                    and argv[0].endswith(b"containerd-shim-runc-v2")
                    and address.encode() in argv
                ):
                    pids.append(int(entry.name))
        return pids

    def _kill_shims(self) -> None:
        for pid in self._shim_pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _get(url: str) -> str | None:
    with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback etcd
        return str(response.read().decode())
    return None
