"""The chart's workloads run as written: commands, environment, ports and probes match the code.

Each container of the rendered migration Job and Deployments is started as a local process with
exactly the environment the manifest gives it. Only what a cluster would provide is mapped:
the console script comes from this workspace's virtual env, the NATS Service and the database
Secret become the test's NATS and PostgreSQL, and each container port becomes a free local port.
"""

import importlib
import inspect
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic_settings import BaseSettings
from switchboard_devstack import ManagedProcess, free_port
from switchboard_devstack.fixtures import ARTIFACTS
from switchboard_devstack.stores import Stores
from switchboard_runtime import ServiceSettings
from websockets.sync.client import connect

from tests.deploy.chart import CHART_DIR, SERVICES, Manifest, find, load_yaml, manifests

BOOT_VALUES = load_yaml(CHART_DIR / "ci" / "boot-values.yaml")
CHART_NATS_URL = load_yaml(CHART_DIR / "values.yaml")["nats"]["url"]
VENV_BIN = Path(sys.executable).parent
START_TIMEOUT_SECONDS = 60.0
FRAME_TIMEOUT_SECONDS = 10.0


def _pod_spec(workload: Manifest) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def _container(workload: Manifest) -> dict[str, Any]:
    (container,) = _pod_spec(workload)["containers"]
    result: dict[str, Any] = container
    return result


def _settings_class(service: str) -> type[BaseSettings]:
    module = importlib.import_module(f"switchboard_{service.replace('-', '_')}.settings")
    (cls,) = [
        obj
        for _, obj in inspect.getmembers(module, inspect.isclass)
        if issubclass(obj, ServiceSettings) and obj is not ServiceSettings
    ]
    return cls


@pytest.mark.parametrize("service", SERVICES)
def test_every_env_name_the_chart_sets_is_a_setting_of_the_service(service: str) -> None:
    # Settings ignore unknown variables, so a misspelt name in the chart would pass silently.
    (deployment,) = find(manifests(BOOT_VALUES), "Deployment", f"switchboard-{service}")
    known = {name.upper() for name in _settings_class(service).model_fields}
    names = {entry["name"] for entry in _container(deployment)["env"]}
    assert names <= known, f"not settings of {service}: {sorted(names - known)}"


def test_with_auth_on_every_gateway_env_name_is_a_setting() -> None:
    full = load_yaml(CHART_DIR / "ci" / "full-values.yaml")
    (deployment,) = find(manifests(full), "Deployment", "switchboard-gateway")
    known = {name.upper() for name in _settings_class("gateway").model_fields}
    names = {entry["name"] for entry in _container(deployment)["env"]}
    assert {"AUTH_ENABLED", "JWKS_URL", "JWT_AUDIENCE", "ALLOWED_ORIGINS"} <= names
    assert names <= known, f"not settings of the gateway: {sorted(names - known)}"


def test_migration_job_env_names_are_settings_of_persistence() -> None:
    (job,) = find(manifests(BOOT_VALUES), "Job")
    known = {name.upper() for name in _settings_class("persistence").model_fields}
    assert {entry["name"] for entry in _container(job)["env"]} <= known


# --- booting the manifests ------------------------------------------------------------------


@dataclass
class LocalPod:
    """One container of a rendered workload, running as a local process."""

    name: str
    container: dict[str, Any]
    ports: dict[int, int]  # containerPort -> local port
    process: ManagedProcess

    def local_port(self, port: int | str) -> int:
        if isinstance(port, str):
            (number,) = [p["containerPort"] for p in self.container["ports"] if p["name"] == port]
            port = int(number)
        return self.ports[port]

    def probe_url(self, probe: str) -> str:
        http_get = self.container[probe]["httpGet"]
        return f"http://127.0.0.1:{self.local_port(http_get['port'])}{http_get['path']}"


def _local_env(
    name: str, container: dict[str, Any], stores: Stores, ports: dict[int, int]
) -> dict[str, str]:
    secrets = {("switchboard-database", "DATABASE_URL"): stores.database_url}
    # Not from the manifest: where a local process finds programs, and binding to loopback.
    env = {"PATH": os.environ["PATH"], "HTTP_HOST": "127.0.0.1"}
    for entry in container.get("env", []):
        key = entry["name"]
        if "value" in entry:
            value = str(entry["value"])
            if key == "NATS_URL":
                assert value == CHART_NATS_URL
                value = stores.nats_url
            elif key == "HTTP_PORT":
                assert int(value) in ports, f"{name}: HTTP_PORT {value} is not a container port"
                value = str(ports[int(value)])
        elif "secretKeyRef" in entry["valueFrom"]:
            ref = entry["valueFrom"]["secretKeyRef"]
            value = secrets[ref["name"], ref["key"]]
        else:
            assert entry["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
            value = f"{name}-local"
        env[key] = value
    return env


def _local_pod(name: str, workload: Manifest, stores: Stores, log_dir: Path) -> LocalPod:
    container = _container(workload)
    command = [*container.get("command", []), *container.get("args", [])]
    executable = VENV_BIN / command[0]
    assert executable.is_file(), f"{name}: {command[0]} is not a console script of the workspace"
    ports = {p["containerPort"]: free_port() for p in container.get("ports", [])}
    process = ManagedProcess(
        name,
        [str(executable), *command[1:]],
        env=_local_env(name, container, stores, ports),
        log_file=log_dir / f"{name}.log",
    )
    return LocalPod(name, container, ports, process)


def _wait_until_ok(pod: LocalPod, probe: str, timeout: float = START_TIMEOUT_SECONDS) -> None:
    url = pod.probe_url(probe)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pod.process.running():
            pytest.fail(f"{pod.name} exited before its {probe} passed; see its log")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    pytest.fail(f"{pod.name}: {url} ({probe}) did not answer 200 within {timeout} s")


@pytest.fixture(scope="module")
def booted(stores: Stores) -> Iterator[dict[str, LocalPod]]:
    """The migration Job run to completion, then every Deployment running and ready."""
    artifacts_dir = ARTIFACTS / "deploy-boot"
    artifacts_dir.mkdir(parents=True, exist_ok=True)
    objects = manifests(BOOT_VALUES)
    (job,) = find(objects, "Job")
    migrate = _local_pod("persistence-migrate", job, stores, artifacts_dir)
    migrate.process.start()
    assert migrate.process.wait(START_TIMEOUT_SECONDS) == 0, "the migration Job failed; see its log"

    pods = {
        service: _local_pod(service, deployment, stores, artifacts_dir)
        for service in SERVICES
        for deployment in find(objects, "Deployment", f"switchboard-{service}")
    }
    assert set(pods) == set(SERVICES)
    try:
        for pod in pods.values():
            pod.process.start()
        for pod in pods.values():
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                _wait_until_ok(pod, probe)
        yield pods
    finally:
        for pod in pods.values():
            pod.process.stop()


def _receive(ws: Any) -> dict[str, Any]:
    frame: dict[str, Any] = json.loads(ws.recv(timeout=FRAME_TIMEOUT_SECONDS))
    return frame


@pytest.mark.e2e
def test_rendered_workloads_boot_and_carry_a_chat_message(booted: dict[str, LocalPod]) -> None:
    gateway = booted["gateway"]
    url = f"ws://127.0.0.1:{gateway.local_port('http')}/chat/boot-test?userId=alice"
    with connect(url, open_timeout=FRAME_TIMEOUT_SECONDS) as ws:
        connected = _receive(ws)
        assert connected["type"] == "notification"
        ws.send(json.dumps({"type": "chat", "payload": {"content": "hello"}}))
        frames: dict[str, dict[str, Any]] = {}
        while not {"chat", "ack"} <= frames.keys():
            frame = _receive(ws)
            assert frame["type"] != "error", frame
            frames.setdefault(frame["type"], frame)
    chat, ack = frames["chat"], frames["ack"]
    assert chat["payload"]["content"] == "hello"
    assert chat["id"]
    assert chat["seq"] >= 1
    assert ack["payload"]["id"] == chat["id"]
    assert ack["payload"]["seq"] == chat["seq"]


@pytest.mark.e2e
def test_helm_test_pod_passes_against_the_booted_gateway(booted: dict[str, LocalPod]) -> None:
    (pod,) = find(manifests(BOOT_VALUES), "Pod")
    (container,) = pod["spec"]["containers"]
    env = {entry["name"]: entry["value"] for entry in container["env"]}
    assert env["GATEWAY"] == "switchboard-gateway.switchboard.svc:8080"
    env["GATEWAY"] = f"127.0.0.1:{booted['gateway'].local_port(8080)}"  # the Service, mapped
    assert container["command"][0] == "python"
    result = subprocess.run(
        [sys.executable, *container["command"][1:], *container["args"]],
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "101 Switching Protocols" in result.stdout
