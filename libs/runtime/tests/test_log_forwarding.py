"""Log records reach the bus without blocking the code that logs, at the configured level and
rate, and never loop back into themselves."""

import asyncio
import logging
from collections.abc import Iterator

import pytest
from switchboard_contracts.dashboard import LogRecord
from switchboard_runtime.telemetry.log_forwarding import (
    BusLogHandler,
    LogGate,
    find_log_forwarder,
    install_log_forwarding,
    level_name,
    redact,
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Published:
    def __init__(self) -> None:
        self.records: list[tuple[str, LogRecord]] = []
        self._arrived = asyncio.Condition()

    async def publish(self, subject: str, data: bytes) -> None:
        async with self._arrived:
            self.records.append((subject, LogRecord.decode(data)))
            self._arrived.notify_all()

    async def wait_for(self, count: int) -> list[LogRecord]:
        async with asyncio.timeout(5), self._arrived:
            while len(self.records) < count:
                await self._arrived.wait()
        return [record for _, record in self.records]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def handler(clock: Clock) -> BusLogHandler:
    return BusLogHandler("INFO", rate_per_second=2, burst=3, clock=clock)


@pytest.fixture
def logger(handler: BusLogHandler) -> Iterator[logging.Logger]:
    logger = logging.getLogger("switchboard.test.forwarding")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(handler)
    yield logger
    logger.removeHandler(handler)


def test_gate_admits_a_burst_then_the_rate_and_reports_what_it_dropped_once() -> None:
    gate = LogGate(rate_per_second=1, burst=2)
    assert [gate.admit(0.0) for _ in range(4)] == [(True, 0), (True, 0), (False, 0), (False, 0)]
    assert gate.admit(1.0) == (True, 2)
    assert gate.admit(2.0) == (True, 0)


@pytest.mark.parametrize(
    ("levelno", "name"),
    [(10, "debug"), (20, "info"), (25, "info"), (30, "warning"), (40, "error"), (50, "critical")],
)
def test_python_levels_map_to_protocol_levels(levelno: int, name: str) -> None:
    assert level_name(levelno) == name


async def test_records_logged_before_the_bus_is_attached_are_sent_once_it_is(
    handler: BusLogHandler, logger: logging.Logger
) -> None:
    logger.info("starting up")
    published = Published()
    handler.attach(published.publish, "chat", "chat-1")
    logger.warning("up: %s", "ready")
    try:
        first, second = await published.wait_for(2)
    finally:
        await handler.detach()
    assert published.records[0][0] == "logs.record.chat"
    assert (first.level, first.message, first.source, first.instance) == (
        "info",
        "starting up",
        "chat",
        "chat-1",
    )
    assert first.logger == "switchboard.test.forwarding"
    assert (second.level, second.message) == ("warning", "up: ready")


async def test_records_below_the_level_are_not_forwarded(
    handler: BusLogHandler, logger: logging.Logger
) -> None:
    published = Published()
    handler.attach(published.publish, "chat", "chat-1")
    logger.debug("noise")
    logger.error("boom")
    try:
        [record] = await published.wait_for(1)
    finally:
        await handler.detach()
    assert record.message == "boom"


async def test_a_log_storm_is_cut_to_the_rate_and_the_drop_is_reported(
    handler: BusLogHandler, logger: logging.Logger, clock: Clock
) -> None:
    published = Published()
    handler.attach(published.publish, "chat", "chat-1")
    for n in range(1000):
        logger.warning("storm %d", n)
    clock.now += 1.0  # two more tokens
    logger.error("after the storm")
    try:
        records = await published.wait_for(5)
        await asyncio.sleep(0)
    finally:
        await handler.detach()
    assert [r.message for r in records] == [
        "storm 0",
        "storm 1",
        "storm 2",
        "997 log records were not forwarded (log rate limit)",
        "after the storm",
    ]
    assert records[3].level == "warning"


async def test_an_exception_is_summarised_in_the_message(
    handler: BusLogHandler, logger: logging.Logger
) -> None:
    published = Published()
    handler.attach(published.publish, "chat", "chat-1")
    try:
        raise ValueError("bad input")
    except ValueError:
        logger.exception("handling failed")
    try:
        [record] = await published.wait_for(1)
    finally:
        await handler.detach()
    assert record.message == "handling failed: ValueError: bad input"


async def test_records_logged_while_publishing_are_not_forwarded_again(
    handler: BusLogHandler, logger: logging.Logger
) -> None:
    published = Published()

    async def noisy_publish(subject: str, data: bytes) -> None:
        logger.warning("publishing")  # as a bus client might, on trouble
        await published.publish(subject, data)

    handler.attach(noisy_publish, "chat", "chat-1")
    logger.warning("once")
    try:
        await published.wait_for(1)
        await asyncio.sleep(0.05)
    finally:
        await handler.detach()
    assert [r.message for _, r in published.records] == ["once"]


async def test_records_logged_from_another_thread_are_forwarded(
    handler: BusLogHandler, logger: logging.Logger
) -> None:
    published = Published()
    handler.attach(published.publish, "chat", "chat-1")
    await asyncio.to_thread(logger.warning, "from a thread")
    try:
        [record] = await published.wait_for(1)
    finally:
        await handler.detach()
    assert record.message == "from a thread"


def test_installing_puts_one_forwarder_on_the_root_logger() -> None:
    root = logging.getLogger()
    try:
        first = install_log_forwarding("INFO", 10, 10)
        second = install_log_forwarding("WARNING", 10, 10)
        assert find_log_forwarder() is second
        assert first not in root.handlers
        assert second.level == logging.WARNING
    finally:
        for handler in list(root.handlers):
            if isinstance(handler, BusLogHandler):
                root.removeHandler(handler)
    assert find_log_forwarder() is None


@pytest.mark.parametrize(
    ("text", "secret", "kept"),
    [
        (
            '"WebSocket /ws?userId=a&token=abc.def" [accepted]',
            "abc.def",
            "userId=a&token=[REDACTED]",
        ),
        ("GET /x?access_token=s3cret HTTP/1.1", "s3cret", "?access_token=[REDACTED] HTTP"),
        ("Authorization: Bearer abc123", "abc123", "Bearer [REDACTED]"),
        ("got eyJhbGciOi.eyJzdWIiOi.sig", "eyJ", "got [REDACTED]"),
    ],
)
def test_secrets_are_blanked_before_a_record_leaves(text: str, secret: str, kept: str) -> None:
    assert kept in redact(text)
    assert secret not in redact(text)


async def test_forwarded_messages_are_redacted(
    handler: BusLogHandler, logger: logging.Logger
) -> None:
    published = Published()
    handler.attach(published.publish, "gateway", "gw-1")
    logger.info('"WebSocket /ws?token=%s" [accepted]', "abc.def.ghi")
    try:
        [record] = await published.wait_for(1)
    finally:
        await handler.detach()
    assert record.message == '"WebSocket /ws?token=[REDACTED]" [accepted]'
