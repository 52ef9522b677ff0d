"""A service reports what it serves to metrics-collector, every interval."""

import asyncio

from switchboard_contracts import ServiceReport
from switchboard_runtime.service.activity import Activity
from switchboard_runtime.service.reporter import ServiceReporter


async def test_reports_carry_the_activity_and_go_out_every_interval() -> None:
    activity = Activity()
    activity.opened()
    activity.request(5)
    sent: list[tuple[str, ServiceReport]] = []
    three = asyncio.Event()

    async def publish(subject: str, data: bytes) -> None:
        sent.append((subject, ServiceReport.decode(data)))
        if len(sent) == 3:
            three.set()

    reporter = ServiceReporter(
        publish, "chat", "chat-1", activity, interval_seconds=0.01, clock_ms=lambda: 42
    )
    reporter.start()
    try:
        async with asyncio.timeout(5):
            await three.wait()
    finally:
        await reporter.stop()
    subject, report = sent[0]
    assert subject == "metrics.report.chat"
    assert report == ServiceReport(
        service="chat", instance="chat-1", timestamp=42, active_connections=1, requests_total=5
    )


async def test_a_failed_publish_does_not_stop_the_reports() -> None:
    attempts = 0
    two = asyncio.Event()

    async def publish(subject: str, data: bytes) -> None:
        nonlocal attempts
        attempts += 1
        if attempts == 2:
            two.set()
        raise ConnectionError("NATS is away")

    reporter = ServiceReporter(publish, "chat", "chat-1", Activity(), interval_seconds=0.01)
    reporter.start()
    try:
        async with asyncio.timeout(5):
            await two.wait()
    finally:
        await reporter.stop()
