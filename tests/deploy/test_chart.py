"""The Helm chart lints strictly and renders objects that Kubernetes and the CRDs accept."""

import json
import re
from typing import Any

import helm_python as helm
import jsonschema
import kubernetes_validate
import pytest
import yaml
from switchboard_runtime import ServiceSettings
from switchboard_runtime.telemetry.settings import TelemetrySettings

from tests.deploy.chart import (
    CHART_DIR,
    CI_VALUES,
    DEFAULT_OVERRIDES,
    SERVICES,
    Manifest,
    find,
    load_yaml,
    manifests,
    merge,
    render,
)
from tests.deploy.validation import KUBE_VERSIONS, is_custom_resource, validate_object

# Every way the tests render the chart: the defaults (plus the one required choice) and each
# file in ci/, layered over the defaults as `helm install -f` would.
VALUE_CASES: dict[str, dict[str, Any]] = {
    "defaults": DEFAULT_OVERRIDES,
    **{f"ci/{path.name}": load_yaml(path) for path in CI_VALUES},
}


def test_ci_values_exist_for_the_tests_that_need_them() -> None:
    assert {path.name for path in CI_VALUES} >= {
        "boot-values.yaml",
        "dev-values.yaml",
        "full-values.yaml",
        "minimal-values.yaml",
    }


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
@pytest.mark.parametrize("case", VALUE_CASES)
def test_chart_lints_in_strict_mode(case: str, kube_version: str) -> None:
    report = helm.lint(CHART_DIR, VALUE_CASES[case], strict=True, kube_version=f"v{kube_version}")
    problems = [m for m in report["messages"] if m["severity"] >= 2]  # warnings and errors
    assert not problems, problems
    assert not report["errors"], report["errors"]


def _validate_all(objects: list[Manifest], kube_version: str) -> None:
    assert objects
    for obj in objects:
        try:
            validate_object(obj, kube_version)
        except (jsonschema.ValidationError, kubernetes_validate.ValidationError) as err:
            where = ".".join(str(part) for part in err.path)
            pytest.fail(f"{obj['kind']}/{obj['metadata']['name']} at {where}: {err.message}")
        except kubernetes_validate.SchemaNotFoundError as err:
            pytest.fail(f"{obj['kind']} has no schema: {err.message}")


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
@pytest.mark.parametrize("case", VALUE_CASES)
def test_every_kubernetes_object_validates_strictly(case: str, kube_version: str) -> None:
    objects = manifests(VALUE_CASES[case])
    _validate_all([obj for obj in objects if not is_custom_resource(obj)], kube_version)


@pytest.mark.parametrize("case", ["ci/full-values.yaml"])
def test_every_custom_resource_validates_against_its_crd_schema(case: str) -> None:
    objects = [obj for obj in manifests(VALUE_CASES[case]) if is_custom_resource(obj)]
    assert {obj["kind"] for obj in objects} == {"ServiceMonitor", "PrometheusRule", "HTTPRoute"}
    _validate_all(objects, KUBE_VERSIONS[-1])


def test_full_values_render_every_optional_kind() -> None:
    kinds = {obj["kind"] for obj in manifests(VALUE_CASES["ci/full-values.yaml"])}
    assert kinds >= {
        "ServiceMonitor",
        "PrometheusRule",
        "HTTPRoute",
        "Ingress",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "NetworkPolicy",
        "ConfigMap",
        "Job",
        "Pod",
    }


def test_auth_without_a_secret_or_jwks_url_refuses_to_render() -> None:
    refusal = r"auth\.jwtSecret\.existingSecret.*auth\.jwksUrl"
    with pytest.raises(helm.HelmRenderError, match=refusal):
        render(None)


def test_auth_with_a_jwks_url_only_renders_it_as_jwks_url() -> None:
    objects = manifests({"auth": {"jwksUrl": "https://auth.example.com/jwks.json"}})
    env = _env(_deployment(objects, "gateway"))
    assert env["JWKS_URL"]["value"] == "https://auth.example.com/jwks.json"
    assert env["AUTH_ENABLED"]["value"] == "true"
    assert "JWT_SECRET" not in env


def test_auth_is_on_by_default_with_the_secret_from_secret_key_ref() -> None:
    env = _env(_deployment(manifests(DEFAULT_OVERRIDES), "gateway"))
    assert env["AUTH_ENABLED"]["value"] == "true"
    assert env["JWT_SECRET"]["valueFrom"]["secretKeyRef"] == {
        "name": "switchboard-auth",
        "key": "JWT_SECRET",
    }


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        ({"gatway": {"replicas": 3}}, "additional properties 'gatway'"),
        ({"chat": {"streamReplicas": 7}}, "streamReplicas"),
        ({"chat": {"outboxFrames": 5}}, "outboxFrames"),
        ({"nats": {"url": "http://nats:4222"}}, "nats/url"),
        ({"gateway": {"drainSeconds": "30"}}, "drainSeconds"),
        ({"tracing": {"sampler": "sometimes"}}, "tracing/sampler"),
        ({"tracing": {"samplerArg": 2}}, "samplerArg"),
    ],
)
def test_values_schema_rejects_mistakes(values: dict[str, Any], complaint: str) -> None:
    with pytest.raises(helm.HelmValuesError, match=re.escape(complaint)):
        render(merge(DEFAULT_OVERRIDES, values))


# --- what the objects say -------------------------------------------------------------------


def _deployment(objects: list[Manifest], service: str) -> Manifest:
    (deployment,) = find(objects, "Deployment", f"switchboard-{service}")
    return deployment


def _container(workload: Manifest) -> dict[str, Any]:
    spec = workload["spec"]
    pod = spec["template"]["spec"] if "template" in spec else spec
    (container,) = pod["containers"]
    result: dict[str, Any] = container
    return result


def _env(workload: Manifest) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in _container(workload)["env"]}


def _pod_specs(objects: list[Manifest]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for obj in objects:
        name = f"{obj['kind']}/{obj['metadata']['name']}"
        if obj["kind"] in {"Deployment", "Job"}:
            found.append((name, obj["spec"]["template"]["spec"]))
        elif obj["kind"] == "Pod":
            found.append((name, obj["spec"]))
    return found


@pytest.mark.parametrize("case", VALUE_CASES)
def test_every_pod_is_hardened(case: str) -> None:
    objects = manifests(VALUE_CASES[case])
    pods = _pod_specs(objects)
    assert len(pods) >= len(SERVICES)
    for name, pod in pods:
        assert pod["automountServiceAccountToken"] is False, name
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        volumes = {volume["name"]: volume for volume in pod["volumes"]}
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"]["drop"] == ["ALL"], name
            assert container["resources"]["requests"], name
            assert container["resources"]["limits"], name
            mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
            assert "emptyDir" in volumes[mounts["/tmp"]], f"{name}: /tmp must be an emptyDir"
            if case != "ci/dev-values.yaml":  # dev syncs files into the container
                assert context["readOnlyRootFilesystem"] is True, name


def test_service_account_does_not_mount_a_token() -> None:
    (account,) = find(manifests(DEFAULT_OVERRIDES), "ServiceAccount")
    assert account["automountServiceAccountToken"] is False


@pytest.mark.parametrize("service", SERVICES)
def test_one_name_everywhere(service: str) -> None:
    objects = manifests(DEFAULT_OVERRIDES)
    deployment = _deployment(objects, service)
    container = _container(deployment)
    assert container["name"] == service
    assert container["image"] == f"ghcr.io/switchboard-dev/{service}:0.1.0"
    assert container["command"] == [f"switchboard-{service}"]
    for obj in [deployment, *find(objects, "Service", f"switchboard-{service}")]:
        assert obj["metadata"]["labels"]["app.kubernetes.io/name"] == service
    assert deployment["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"] == service


@pytest.mark.parametrize("service", SERVICES)
def test_probes_check_health_and_readiness_on_the_http_port(service: str) -> None:
    deployment = _deployment(manifests(DEFAULT_OVERRIDES), service)
    container = _container(deployment)
    (port,) = container["ports"]
    assert port["name"] == "http"
    assert int(_env(deployment)["HTTP_PORT"]["value"]) == port["containerPort"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}


@pytest.mark.parametrize("service", SERVICES)
def test_standard_labels_on_every_workload(service: str) -> None:
    labels = _deployment(manifests(DEFAULT_OVERRIDES), service)["metadata"]["labels"]
    assert labels["app.kubernetes.io/instance"] == "switchboard"
    assert labels["app.kubernetes.io/part-of"] == "switchboard"
    assert labels["app.kubernetes.io/managed-by"] == "Helm"
    assert labels["app.kubernetes.io/version"] == "0.1.0"


@pytest.mark.parametrize(("drain", "pre_stop"), [(30, 5), (45, 10), (20, 0)])
def test_gateway_grace_period_covers_pre_stop_and_drain(drain: int, pre_stop: int) -> None:
    gateway = {"drainSeconds": drain, "preStopSeconds": pre_stop}
    objects = manifests(merge(DEFAULT_OVERRIDES, {"gateway": gateway}))
    deployment = _deployment(objects, "gateway")
    pod = deployment["spec"]["template"]["spec"]
    assert _env(deployment)["SHUTDOWN_TIMEOUT_SECONDS"]["value"] == str(drain)
    assert pod["terminationGracePeriodSeconds"] == pre_stop + drain + 5
    lifecycle = _container(deployment).get("lifecycle")
    if pre_stop:
        assert lifecycle == {"preStop": {"sleep": {"seconds": pre_stop}}}
    else:
        assert lifecycle is None
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_gateway_autoscales_and_scales_down_slowly() -> None:
    objects = manifests(DEFAULT_OVERRIDES)
    (hpa,) = find(objects, "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"]["name"] == "switchboard-gateway"
    assert hpa["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] >= 60
    assert "replicas" not in _deployment(objects, "gateway")["spec"], "the HPA owns replicas"


def test_gateway_has_a_disruption_budget() -> None:
    (pdb,) = find(manifests(DEFAULT_OVERRIDES), "PodDisruptionBudget")
    assert pdb["metadata"]["name"] == "switchboard-gateway"
    assert pdb["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] == "gateway"


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_gets_the_nats_fault_detection_defaults(service: str) -> None:
    """The chart's values are the services' own defaults, which docs/reliability.md bounds."""
    env = _env(_deployment(manifests(DEFAULT_OVERRIDES), service))
    defaults = ServiceSettings.model_fields
    for name in (
        "nats_ping_interval_seconds",
        "nats_max_outstanding_pings",
        "nats_reconnect_wait_seconds",
        "nats_reconnect_jitter_seconds",
        "nats_connect_timeout_seconds",
        "publish_deadline_seconds",
    ):
        assert float(env[name.upper()]["value"]) == defaults[name].default, name


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_samples_traces_as_the_services_default(service: str) -> None:
    env = _env(_deployment(manifests(DEFAULT_OVERRIDES), service))
    defaults = TelemetrySettings.model_fields
    assert env["OTEL_TRACES_SAMPLER"]["value"] == defaults["otel_traces_sampler"].default
    assert float(env["OTEL_TRACES_SAMPLER_ARG"]["value"]) == (
        defaults["otel_traces_sampler_arg"].default
    )
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" not in env  # nothing exported until a collector is named
    assert 4318 not in _egress_ports(_policy(manifests(DEFAULT_OVERRIDES), service))


def test_a_collector_gets_every_service_s_spans_through_the_network_policy() -> None:
    endpoint = "http://otel-collector.observability:4318"
    objects = manifests(merge(DEFAULT_OVERRIDES, {"tracing": {"otlpEndpoint": endpoint}}))
    for service in SERVICES:
        assert _env(_deployment(objects, service))["OTEL_EXPORTER_OTLP_ENDPOINT"]["value"] == (
            endpoint
        )
        assert 4318 in _egress_ports(_policy(objects, service)), service
    assert 4318 not in _egress_ports(_policy(objects, "persistence-migrate"))


@pytest.mark.parametrize("service", ["chat", "notification"])
def test_streams_have_three_replicas_by_default(service: str) -> None:
    env = _env(_deployment(manifests(DEFAULT_OVERRIDES), service))
    assert env["STREAM_REPLICAS"]["value"] == "3"


def test_migration_runs_as_a_hook_before_install_and_upgrade() -> None:
    objects = manifests(DEFAULT_OVERRIDES)
    (job,) = find(objects, "Job")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert _container(job)["command"] == ["switchboard-persistence", "migrate"]
    secret_ref = {"name": "switchboard-database", "key": "DATABASE_URL"}
    assert _env(job)["DATABASE_URL"]["valueFrom"]["secretKeyRef"] == secret_ref
    persistence = _env(_deployment(objects, "persistence"))
    assert persistence["MIGRATE_ON_START"]["value"] == "false"
    assert persistence["DATABASE_URL"]["valueFrom"]["secretKeyRef"] == secret_ref


def test_without_the_hook_persistence_migrates_on_start() -> None:
    objects = manifests(merge(DEFAULT_OVERRIDES, {"migration": {"enabled": False}}))
    assert not find(objects, "Job")
    assert _env(_deployment(objects, "persistence"))["MIGRATE_ON_START"]["value"] == "true"


def test_only_persistence_gets_the_database_url() -> None:
    objects = manifests(DEFAULT_OVERRIDES)
    holders = [s for s in SERVICES if "DATABASE_URL" in _env(_deployment(objects, s))]
    assert holders == ["persistence"]


def _policy(objects: list[Manifest], name: str) -> dict[str, Any]:
    (policy,) = find(objects, "NetworkPolicy", f"switchboard-{name}")
    spec: dict[str, Any] = policy["spec"]
    return spec


def _egress_ports(policy: dict[str, Any]) -> set[int]:
    return {port["port"] for rule in policy["egress"] for port in rule["ports"]}


def test_network_policies_let_only_the_gateway_take_traffic() -> None:
    objects = manifests(VALUE_CASES["ci/full-values.yaml"])
    prometheus = load_yaml(CHART_DIR / "values.yaml")["networkPolicy"]["prometheus"]
    for service in SERVICES:
        policy = _policy(objects, service)
        assert policy["policyTypes"] == ["Ingress", "Egress"]
        client_rules = [rule for rule in policy["ingress"] if rule.get("from") != prometheus]
        assert bool(client_rules) == (service == "gateway"), service
        assert 4222 in _egress_ports(policy), f"{service} must reach NATS"
        assert (5432 in _egress_ports(policy)) == (service == "persistence"), service
    assert 5432 in _egress_ports(_policy(objects, "persistence-migrate"))


def test_network_policies_are_on_by_default() -> None:
    assert len(find(manifests(DEFAULT_OVERRIDES), "NetworkPolicy")) == len(SERVICES) + 1


def test_ingress_streams_without_buffering_and_pins_only_socket_io() -> None:
    objects = manifests(VALUE_CASES["ci/full-values.yaml"])
    main, socket_io = (
        find(objects, "Ingress", "switchboard-gateway")[0],
        find(objects, "Ingress", "switchboard-gateway-socketio")[0],
    )
    for ingress in (main, socket_io):
        annotations = ingress["metadata"]["annotations"]
        assert annotations["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"
        assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
        assert int(annotations["nginx.ingress.kubernetes.io/proxy-send-timeout"]) >= 3600
    assert "nginx.ingress.kubernetes.io/affinity" not in main["metadata"]["annotations"]
    assert socket_io["metadata"]["annotations"]["nginx.ingress.kubernetes.io/affinity"] == "cookie"
    (path,) = socket_io["spec"]["rules"][0]["http"]["paths"]
    assert path["path"] == "/socket.io/"
    assert path["backend"]["service"]["name"] == "switchboard-gateway-socketio"
    assert find(objects, "Service", "switchboard-gateway-socketio")


def test_http_route_sends_socket_io_to_a_cookie_persistent_rule() -> None:
    (route,) = find(manifests(VALUE_CASES["ci/full-values.yaml"]), "HTTPRoute")
    rules = {rule["name"]: rule for rule in route["spec"]["rules"]}
    assert rules["socketio"]["matches"][0]["path"]["value"] == "/socket.io/"
    assert rules["socketio"]["sessionPersistence"]["type"] == "Cookie"
    assert "sessionPersistence" not in rules["gateway"]


def test_service_monitor_scrapes_every_service_once() -> None:
    objects = manifests(VALUE_CASES["ci/full-values.yaml"])
    (monitor,) = find(objects, "ServiceMonitor")
    selector = monitor["spec"]["selector"]
    scraped = [
        service["metadata"]["name"]
        for service in find(objects, "Service")
        if _matches(selector, service["metadata"]["labels"])
    ]
    assert sorted(scraped) == sorted(f"switchboard-{s}" for s in SERVICES)


def _matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    if any(labels.get(key) != value for key, value in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        value = labels.get(expression["key"])
        operator = expression["operator"]
        if (operator == "In" and value not in expression["values"]) or (
            operator == "DoesNotExist" and value is not None
        ):
            return False
    return True


def test_dashboards_are_config_maps_for_the_grafana_sidecar() -> None:
    config_maps = find(manifests(DEFAULT_OVERRIDES), "ConfigMap")
    data: dict[str, str] = {}
    for config_map in config_maps:
        assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
        data.update(config_map["data"])
    for name, text in data.items():
        dashboard = json.loads(text)
        assert dashboard["panels"], name
    shipped = {path.name for path in (CHART_DIR / "dashboards").glob("*.json")}
    assert set(data) == shipped
    assert len(config_maps) == len(shipped)  # one ConfigMap a dashboard, each under 1 MiB


def test_helm_test_pod_checks_the_gateway() -> None:
    (pod,) = find(manifests(DEFAULT_OVERRIDES), "Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    env = {entry["name"]: entry["value"] for entry in pod["spec"]["containers"][0]["env"]}
    assert env["GATEWAY"] == "switchboard-gateway.switchboard.svc:8080"
    script = pod["spec"]["containers"][0]["args"][0]
    assert "/readyz" in script
    assert "Sec-WebSocket-Key" in script
    compile(script, "helm-test", "exec")  # the script is valid Python


def test_notes_name_the_release_and_how_to_test_it() -> None:
    notes = render(DEFAULT_OVERRIDES)["switchboard/templates/NOTES.txt"]
    assert "helm test switchboard" in notes
    assert "nats://nats:4222" in notes


def test_chart_values_file_parses_as_yaml_with_one_block_per_service() -> None:
    values = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    assert set(SERVICES) <= set(values)
