"""What an operator sees: a real Prometheus scraping all five services, one trace per chat
message across gateway, chat and persistence, and logs that never hold a token or a message.

One stack for the module, started with the standard OTEL_* variables pointing at an in-test
OTLP/HTTP receiver (the services' real exporter path) and with DEBUG logs in JSON.
"""

import asyncio
import json
import secrets
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from switchboard_devstack import Stack
from switchboard_devstack.chatframes import joined, new_room
from switchboard_devstack.fixtures import ALL_SERVICES, ARTIFACTS, module_stack
from switchboard_devstack.otlp_receiver import OtlpReceiver, ReceivedSpan
from switchboard_devstack.prometheus_server import PrometheusServer, prometheus_binary
from switchboard_devstack.stores import Stores, scratch_dir
from switchboard_devstack.wsclient import Frame, FrameClient

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy/helm/switchboard"
RULES = CHART / "rules/switchboard.rules.yaml"
LOG_NAME = "e2e-observability"
LOG_DIR = ARTIFACTS / LOG_NAME
SERVICES = ("gateway", "chat", "notification", "persistence", "metrics-collector")
SPAN_KIND_PRODUCER = 4
SPAN_KIND_CONSUMER = 5


@pytest.fixture(scope="module")
def otlp() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def stack(stores: Stores, otlp: OtlpReceiver) -> Iterator[Stack]:
    env = {
        "LOG_LEVEL": "DEBUG",
        "LOG_FORMAT": "json",
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp.url,
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        # Every trace recorded (the default records a ratio of them): these tests follow one.
        "OTEL_TRACES_SAMPLER": "parentbased_always_on",
    }
    with module_stack(stores, LOG_NAME, *ALL_SERVICES, env=env) as running:
        yield running


@pytest.fixture(scope="module")
def prometheus(stack: Stack) -> Iterator[PrometheusServer]:
    if prometheus_binary() is None:
        pytest.skip("prometheus (Debian package) is missing: run scripts/system-deps.sh")
    server = PrometheusServer(
        scratch_dir("sb-prometheus-"),
        {name: f"127.0.0.1:{stack[name].port}" for name in SERVICES},
        rule_files=(RULES,),
        log_file=LOG_DIR / "prometheus.log",
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def chat_in_a_room(stack: Stack, count: int) -> list[str]:
    """Alice sends ``count`` messages that she and Bob both receive; returns their ids."""
    room = new_room()
    base = stack["gateway"].ws_url
    async with (
        FrameClient(f"{base}/chat/{room}?userId=alice") as alice,
        FrameClient(f"{base}/chat/{room}?userId=bob") as bob,
    ):
        await joined(alice, room, "alice")
        await joined(bob, room, "bob")
        for n in range(count):
            await alice.send({"type": "chat", "payload": {"content": f"m{n}"}})
        for client in (alice, bob):
            for content in (f"m{n}" for n in range(count)):
                await client.wait_for("chat", partial(has_content, content))
        return [frame["id"] for frame in bob.of_type("chat")]


def has_content(content: str, frame: Frame) -> bool:
    return bool(frame["payload"]["content"] == content)


async def until(condition: Callable[[], bool], failure: Callable[[], str], timeout: float) -> None:
    """Poll ``condition`` (another process's output) until it holds; fail with ``failure()``."""
    try:
        async with asyncio.timeout(timeout):
            while not condition():  # noqa: ASYNC110 (nothing to await but the other process)
                await asyncio.sleep(0.2)
    except TimeoutError:
        pytest.fail(failure())


async def query_until(
    prometheus: PrometheusServer, expr: str, done: Any, timeout: float = 30.0
) -> list[dict[str, Any]]:
    """Query ``expr`` until ``done(result)`` holds; the last result otherwise fails the test."""
    result: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(timeout):
            while not done(result := await prometheus.query(expr)):  # noqa: ASYNC110
                await asyncio.sleep(0.5)
    except TimeoutError:
        pytest.fail(f"{expr} never satisfied the test; last result: {result}")
    return result


def value(sample: dict[str, Any]) -> float:
    return float(sample["value"][1])


async def test_prometheus_scrapes_all_five_services_and_the_delivery_latency_histogram(
    stack: Stack, prometheus: PrometheusServer
) -> None:
    up = await query_until(
        prometheus,
        "up",
        lambda r: {s["metric"]["job"] for s in r if value(s) == 1} >= set(SERVICES),
    )
    assert {s["metric"]["job"] for s in up} == set(SERVICES)
    await chat_in_a_room(stack, 3)  # after a first scrape, so that rate() sees the increase

    def ten_each(result: list[dict[str, Any]]) -> bool:
        return {s["metric"]["job"]: value(s) >= 10 for s in result} == dict.fromkeys(SERVICES, True)

    # the series the chat creates show from the next scrape of each service on
    per_job = await query_until(
        prometheus, 'count by (job) ({__name__=~"switchboard_.+"})', ten_each
    )
    assert ten_each(per_job)
    services = await query_until(
        prometheus,
        "count by (service, job) (switchboard_build_info)",
        lambda r: len(r) == len(SERVICES),
    )
    assert {(s["metric"]["service"], s["metric"]["job"]) for s in services} == {
        (name, name) for name in SERVICES
    }
    # 3 messages, each written to 2 readers
    await query_until(
        prometheus,
        'sum(switchboard_gateway_delivery_latency_seconds_count{transport="websocket"})',
        lambda r: r and value(r[0]) >= 6,
    )
    buckets = await prometheus.query("switchboard_gateway_delivery_latency_seconds_bucket")
    assert {s["metric"]["le"] for s in buckets} >= {"0.01", "1.0", "+Inf"}
    p99 = await query_until(
        prometheus,
        "histogram_quantile(0.99, sum by (le) "
        "(rate(switchboard_gateway_delivery_latency_seconds_bucket[1m])))",
        lambda r: r and 0 < value(r[0]) < 30,
    )
    assert value(p99[0]) < 30
    for expr in (
        "sum(switchboard_chat_messages_accepted_total)",
        'sum(switchboard_persistence_messages_written_total{table="chat_messages"})',
    ):
        await query_until(prometheus, expr, lambda r: r and value(r[0]) >= 3)
    # the sends reach chat in the gateway's batches: at least one, however they were gathered
    await query_until(
        prometheus,
        'sum(switchboard_bus_handled_requests_total{service="chat", '
        'subject="chat.cmd.send-batch"})',
        lambda r: r and value(r[0]) >= 1,
    )
    lag = await query_until(
        prometheus,
        'switchboard_jetstream_consumer_pending_messages{consumer="persistence-chat"}',
        lambda r: len(r) == 1,
    )
    assert lag[0]["metric"]["service"] == "persistence"


async def test_prometheus_loads_the_alert_rules_and_evaluates_them_all(
    stack: Stack, prometheus: PrometheusServer
) -> None:
    shipped = {
        rule["alert"]
        for group in yaml.safe_load(RULES.read_text())["groups"]
        for rule in group["rules"]
    }

    def evaluated(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [rule for group in groups for rule in group["rules"] if rule["health"] != "unknown"]

    try:
        async with asyncio.timeout(30):
            while len(evaluated((await prometheus.api("rules"))["groups"])) < len(shipped):  # noqa: ASYNC110
                await asyncio.sleep(0.5)
    except TimeoutError:
        pytest.fail(f"not every rule was evaluated: {await prometheus.api('rules')}")
    rules = evaluated((await prometheus.api("rules"))["groups"])
    assert {rule["name"] for rule in rules} == shipped
    assert [rule for rule in rules if rule["health"] != "ok"] == []
    firing = await prometheus.api("alerts")
    assert [
        a for a in firing["alerts"] if a["labels"]["alertname"] == "SwitchboardServiceDown"
    ] == []


EXPECTED_SPANS = {
    ("gateway", "request chat.cmd.send-batch"),
    ("chat", "process chat.cmd.send-batch"),
    ("chat", "publish chat.room.>"),
    ("persistence", "process chat.room.>"),
    ("persistence", "INSERT chat_messages"),
    ("gateway", "process chat.live.>"),
}
"""What the trace test looks at: each service exports its spans in batches of its own."""


def trace_of(spans: list[ReceivedSpan], message_id: str) -> list[ReceivedSpan]:
    """Every span of the trace in which persistence stored ``message_id``."""
    stored = [
        s
        for s in spans
        if s.service == "persistence" and s.attributes.get("messaging.message.id") == message_id
    ]
    if not stored:
        return []
    return [s for s in spans if s.trace_id == stored[0].trace_id]


async def test_one_chat_message_is_one_trace_across_gateway_chat_and_persistence(
    stack: Stack, otlp: OtlpReceiver
) -> None:
    [message_id] = await chat_in_a_room(stack, 1)
    await until(
        lambda: (
            {(s.service, s.name) for s in trace_of(otlp.received(), message_id)} >= EXPECTED_SPANS
        ),
        lambda: (
            f"no trace with {EXPECTED_SPANS} for {message_id}: "
            f"{trace_of(otlp.received(), message_id)}"
        ),
        timeout=20,
    )
    spans = trace_of(otlp.received(), message_id)
    by_id = {s.span_id: s for s in spans}

    def one(service: str, name: str) -> ReceivedSpan:
        [found] = [s for s in spans if s.service == service and s.name == name]
        return found

    request = one("gateway", "request chat.cmd.send-batch")
    handled = one("chat", "process chat.cmd.send-batch")
    published = one("chat", "publish chat.room.>")
    stored = one("persistence", "process chat.room.>")
    delivered = [s for s in spans if s.service == "gateway" and s.name == "process chat.live.>"]
    # gateway -> chat (the gateway's batch of sends) -> JetStream (one span over the batch's
    # publishes) -> persistence, and (republished by the stream) -> the gateway's live fan-out
    assert request.parent_span_id == ""
    assert by_id[handled.parent_span_id] is request
    assert by_id[published.parent_span_id] is handled
    assert by_id[stored.parent_span_id] is published
    assert len(delivered) == 1
    assert by_id[delivered[0].parent_span_id] is published
    # messaging semantic conventions
    assert (request.kind, published.kind) == (SPAN_KIND_PRODUCER, SPAN_KIND_PRODUCER)
    assert (handled.kind, stored.kind) == (SPAN_KIND_CONSUMER, SPAN_KIND_CONSUMER)
    for span in (request, handled, published, stored):
        assert span.attributes["messaging.system"] == "nats"
    assert published.attributes["messaging.destination.template"] == "chat.room.>"
    assert stored.attributes["messaging.destination.name"].startswith("chat.room.room-")
    assert published.attributes["messaging.batch.message_count"] == 1  # one span per batch
    assert stored.attributes["messaging.message.id"] == message_id
    assert handled.attributes["messaging.consumer.group.name"] == "chat"
    assert stored.attributes["messaging.consumer.group.name"] == "persistence-chat"
    assert any(s.name == "INSERT chat_messages" for s in spans)


def log_text() -> str:
    return "\n".join(path.read_text(errors="replace") for path in sorted(LOG_DIR.glob("*.log")))


async def test_a_token_in_the_query_string_and_message_bodies_appear_in_no_log(
    stack: Stack,
) -> None:
    token = f"tok-{secrets.token_urlsafe(24)}"
    body = f"body-{secrets.token_hex(12)}"
    room = new_room()
    gateway = stack["gateway"]
    async with FrameClient(f"{gateway.ws_url}/chat/{room}?userId=alice&token={token}") as alice:
        await alice.send(
            {"type": "chat", "payload": {"content": body, "clientMsgId": secrets.token_hex(8)}}
        )
        await alice.wait_for("ack")
        await alice.send({"type": "chat", "payload": {"content": body + "x" * 5000}})
        await alice.wait_for("error")
        await alice.send(f"not json {body}")
        await alice.wait_for("error", lambda f: f["payload"]["code"] == "invalid_json")
    async with httpx.AsyncClient(base_url=gateway.url, timeout=10) as http:
        await http.get(f"/api/rooms/{room}/messages", params={"token": token})
        await http.get("/nowhere", params={"access_token": token})
        async with asyncio.timeout(15):
            while not (await http.get(f"/api/rooms/{room}/messages")).json()["messages"]:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
    redacted = [
        f"/chat/{room}?userId=alice&token=[REDACTED]",
        f"/api/rooms/{room}/messages?token=[REDACTED]",
        "/nowhere?access_token=[REDACTED]",
    ]
    await until(
        lambda: all(line in log_text() for line in redacted),
        lambda: f"the gateway did not log these requests, redacted: {redacted}",
        timeout=10,
    )
    logs = log_text()
    assert token not in logs
    assert body not in logs


async def test_service_logs_are_json_lines_and_requests_carry_their_trace_id(
    stack: Stack, otlp: OtlpReceiver
) -> None:
    room = new_room()
    async with httpx.AsyncClient(base_url=stack["gateway"].url, timeout=10) as http:
        (await http.get(f"/api/rooms/{room}/messages")).raise_for_status()
    # logged once the response is sent, and copied to the file by another thread
    await until(
        lambda: f"GET /api/rooms/{room}/messages" in (LOG_DIR / "gateway.log").read_text(),
        lambda: f"the gateway did not log the request for {room}",
        timeout=10,
    )
    for name in SERVICES:
        lines = (LOG_DIR / f"{name}.log").read_text().splitlines()
        entries = [json.loads(line) for line in lines]  # every line is one JSON object
        assert {e["service"] for e in entries} == {name}
        assert all({"time", "level", "logger", "message"} <= e.keys() for e in entries)
    gateway = [json.loads(line) for line in (LOG_DIR / "gateway.log").read_text().splitlines()]
    requests = [e for e in gateway if e["logger"] == "switchboard.access" and e["level"] == "INFO"]
    assert requests
    assert all(len(e["trace_id"]) == 32 and len(e["span_id"]) == 16 for e in requests)
    # the history request's trace reached persistence, and the log line names it
    [history] = [e for e in requests if f"/api/rooms/{room}/messages" in e["message"]]
    await until(
        lambda: any(
            s.trace_id == history["trace_id"] and s.service == "persistence"
            for s in otlp.received()
        ),
        lambda: f"no persistence span in the trace {history['trace_id']} that the log names",
        timeout=10,
    )
