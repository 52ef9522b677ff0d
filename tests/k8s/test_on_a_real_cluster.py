"""The Helm chart on a real one-node Kubernetes 1.20, with images built from docker/Dockerfile.

In order: the install (migration hook, hardening, HPA and PDB accepted), ``helm test``, chat and
SSE through the gateway from outside, pods deleted and a rolling restart under chat load
(nothing acknowledged lost, nothing shown twice), ``helm upgrade`` and ``helm rollback``.
"""

import asyncio
import json
import time

import httpx
import pytest
from switchboard_client import ChatConnection, NotificationStream, RoomCursors
from switchboard_devstack import tokens
from switchboard_devstack.polling import until

from tests.k8s.kit import NAMESPACE, RELEASE, ChatLoad, Release, say, step

pytestmark = [pytest.mark.k8s, pytest.mark.timeout(1500)]

SERVICES = ("gateway", "chat", "notification", "persistence", "metrics-collector")


def _job_ran(release: Release, job: str) -> bool:
    """The Job created its pod. Helm waited for it to succeed (a failed hook fails the command)
    and then deleted it (hook-succeeded): its events are what is left of it."""
    events = release.kubectl_json("get", "events", "--field-selector", "involvedObject.kind=Job")
    return any(
        e["involvedObject"]["name"] == job and e["reason"] in {"SuccessfulCreate", "Completed"}
        for e in events["items"]
    )


def _pdb_expects(release: Release, pods: int, *, timeout: float) -> bool:
    """The gateway's PDB counts ``pods`` expected pods within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        pdb = release.kubectl_json(
            "get", "poddisruptionbudgets.v1beta1.policy", f"{RELEASE}-gateway"
        )
        if pdb.get("status", {}).get("expectedPods") == pods:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(1)


def test_the_migration_hook_ran_before_the_services(release: Release) -> None:
    with step("migration hook Job checked"):
        job = f"{RELEASE}-persistence-migrate-1"
        assert _job_ran(release, job), "no pre-install migration Job ran"
        tables = {
            row[0]
            for row in release.psql("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        }
        assert "chat_messages" in tables
        deployment = release.kubectl_json("get", "deployment", f"{RELEASE}-persistence")
        env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        assert {"name": "MIGRATE_ON_START", "value": "false"} in env


def test_every_service_runs_hardened(release: Release) -> None:
    with step("hardening and network policies checked"):
        for service in SERVICES:
            pods = release.pods(service)
            assert pods, f"no {service} pod"
            for pod in pods:
                spec = pod["spec"]
                container = spec["containers"][0]
                assert spec["securityContext"]["runAsNonRoot"] is True
                assert container["securityContext"]["readOnlyRootFilesystem"] is True
                assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
                assert all(s["ready"] for s in pod["status"]["containerStatuses"]), pod["metadata"][
                    "name"
                ]
        uid = release.kubectl("exec", f"deploy/{RELEASE}-gateway", "--", "id", "-u").strip()
        assert uid == "10001"
        write = release.kubectl(
            "exec", f"deploy/{RELEASE}-gateway", "--", "sh", "-c", "touch /app/x 2>&1 || true"
        )  # fmt: skip
        assert "Read-only file system" in write, write
        policies = {
            p["metadata"]["name"] for p in release.kubectl_json("get", "networkpolicy")["items"]
        }
        assert {f"{RELEASE}-{service}" for service in SERVICES} <= policies


def test_the_hpa_and_the_disruption_budget_are_served_as_1_20_has_them(release: Release) -> None:
    with step("HPA and PDB accepted by the API server"):
        version = json.loads(release.cluster.kubectl("version", "-o", "json"))["serverVersion"][
            "gitVersion"
        ]
        assert version == "v1.20.2"
        hpa = release.kubectl_json(
            "get", "horizontalpodautoscalers.v2beta2.autoscaling", f"{RELEASE}-gateway"
        )
        assert hpa["spec"]["minReplicas"] == 2
        assert hpa["spec"]["behavior"]["scaleDown"]["policies"][0]["type"] == "Pods"
        pdb = release.kubectl_json(
            "get", "poddisruptionbudgets.v1beta1.policy", f"{RELEASE}-gateway"
        )
        assert pdb["spec"]["maxUnavailable"] == 1
        # The disruption controller fills the status in on its own sync, after the install
        assert _pdb_expects(release, 2, timeout=60), release.diagnosis()
        gateway = release.kubectl_json("get", "deployment", f"{RELEASE}-gateway")
        pre_stop = gateway["spec"]["template"]["spec"]["containers"][0]["lifecycle"]["preStop"]
        assert pre_stop == {"exec": {"command": ["sleep", "2"]}}, "1.20 has no sleep action"


def test_helm_test_passes(release: Release) -> None:
    with step("helm test"):
        # No --logs: the hook-succeeded delete policy removes the pod before helm could read them.
        out = release.helm("test", RELEASE, "--timeout", "3m")
        suite = out[out.index("TEST SUITE:") : out.index("NOTES:")] if "NOTES:" in out else out
        say("helm test: " + " | ".join(line.strip() for line in suite.splitlines() if line.strip()))
        assert "Phase:          Succeeded" in suite


async def test_two_clients_chat_and_a_user_gets_a_notification_from_outside(
    release: Release,
) -> None:
    with step("chat between two clients and an SSE notification, through the NodePort"):
        room = "k8s-hello"
        # Joined with since=0: "connected" means the joins were sent, not that they took
        # effect; a client joining without since does not see what was sent before its join
        # did (the gateways are two pods), and could miss the other's first message.
        alice, bob = (
            ChatConnection(
                release.ws_url,
                user,
                [room],
                token=tokens.mint(user),
                cursors=RoomCursors({room: 0}),
            )
            for user in ("alice", "bob")
        )
        stream = NotificationStream(release.gateway_url, "carol", token=tokens.mint("carol"))
        async with alice, bob, stream:
            async with asyncio.timeout(30):
                await alice.connected.wait()
                await bob.connected.wait()
            sent = alice.send(room, "hello from alice")
            await alice.wait_acked(room, sent)
            reply = bob.send(room, "hello back from bob")
            await bob.wait_acked(room, reply)

            async def everyone_has_both() -> bool:
                return all(
                    len([m for m in c.messages if m.room == room]) >= 2 for c in (alice, bob)
                )

            await until(everyone_has_both, "both messages shown to both clients", timeout=30)
            assert [m.content for m in bob.messages if m.room == room][:2] == [
                "hello from alice",
                "hello back from bob",
            ]
            async with httpx.AsyncClient(base_url=release.gateway_url, timeout=10) as http:
                body = {"userId": "carol", "type": "info", "title": "from k8s", "message": "hi"}
                response = await http.post(
                    "/api/notifications/send",
                    json=body,
                    headers=tokens.service("notifications:send"),
                )
                assert response.status_code == 200, response.text
            await stream.wait_until(
                lambda: any(n.title == "from k8s" for n in stream.notifications), 30
            )


@pytest.mark.parametrize("service", ["chat", "persistence"])
async def test_deleting_a_pod_loses_nothing_acknowledged(release: Release, service: str) -> None:
    with step(f"kubectl delete pod ({service}) under chat load"):
        async with ChatLoad(release) as load:
            await asyncio.sleep(2)
            victim = release.pods(service)[0]["metadata"]["name"]
            await asyncio.to_thread(release.kubectl, "delete", "pod", victim, "--wait=false")
            await asyncio.sleep(3)
            await asyncio.to_thread(release.wait_pods_settled, service)
            await asyncio.sleep(2)
            counts = await load.stop_and_count(f"delete pod {victim}")
        assert counts.acked > 0
        assert not counts.lost, counts.lost[:10]
        assert counts.duplicates == 0
        assert counts.stored == counts.acked
        assert counts.received == counts.wanted


async def test_a_rolling_restart_of_the_gateway_loses_nothing_and_shows_nothing_twice(
    release: Release,
) -> None:
    with step("kubectl rollout restart of the gateway under chat load"):
        # 4 messages a second per client: at 10 a second, the outbox a client sends again on
        # reconnect exceeds the gateway's per-connection burst (40) and draws 4429 closes.
        async with ChatLoad(release, clients=4, interval=0.25) as load:
            await asyncio.sleep(2)
            await asyncio.to_thread(
                release.kubectl, "rollout", "restart", f"deployment/{RELEASE}-gateway"
            )
            await asyncio.to_thread(release.wait_rollout, "gateway")
            await asyncio.to_thread(release.wait_pods_settled, "gateway")
            await asyncio.sleep(3)
            counts = await load.stop_and_count("gateway rolling restart")
        assert counts.acked > 0
        assert not counts.lost, counts.lost[:10]
        assert counts.duplicates == 0
        assert counts.stored == counts.acked
        assert counts.received == counts.wanted
        assert counts.close_codes.get("1012", 0) > 0, (
            f"no client saw the drain's 1012: {counts.close_codes}"
        )


def test_helm_upgrade_and_rollback(release: Release) -> None:
    with step("helm upgrade (pre-upgrade migration hook) and helm rollback"):
        release.helm(
            "upgrade", RELEASE, str(release.chart), "-f", str(release.values),
            "--set", "gateway.autoscaling.maxReplicas=4", "--wait", "--timeout", "5m",
        )  # fmt: skip
        hpa = release.kubectl_json(
            "get", "horizontalpodautoscalers.v2beta2.autoscaling", f"{RELEASE}-gateway"
        )
        assert hpa["spec"]["maxReplicas"] == 4
        job = f"{RELEASE}-persistence-migrate-2"
        assert _job_ran(release, job), "no pre-upgrade migration Job"
        release.helm("rollback", RELEASE, "1", "--wait", "--timeout", "5m")
        hpa = release.kubectl_json(
            "get", "horizontalpodautoscalers.v2beta2.autoscaling", f"{RELEASE}-gateway"
        )
        assert hpa["spec"]["maxReplicas"] == 10
        history = json.loads(release.helm("history", RELEASE, "-o", "json"))
        assert [h["status"] for h in history][-1] == "deployed"
        assert len(history) == 3
        for service in SERVICES:
            release.wait_rollout(service, timeout=120)
    say(f"namespace {NAMESPACE}: release at revision 3 after rollback")
