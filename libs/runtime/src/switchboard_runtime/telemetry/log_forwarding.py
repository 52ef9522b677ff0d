"""A service's log records, forwarded to the bus for the dashboards' live log tail.

``BusLogHandler`` sits on the root logger (``install_log_forwarding``, called by ``run_service``).
It never blocks the code that logs: records at or above the configured level pass a token
bucket (a log storm is cut to the configured rate; how many were dropped is forwarded once the
storm ends) into a bounded buffer that a task drains to ``logs.record.<service>`` once the
service's bus is attached. Records logged while forwarding are not forwarded again. Secrets in a
message (token-like query parameters, bearer tokens, JWTs) are blanked before it leaves.
"""

import asyncio
import contextlib
import contextvars
import logging
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from switchboard_contracts import subjects
from switchboard_contracts.dashboard import MAX_LOG_MESSAGE_LENGTH, LogLevel, LogRecord

from switchboard_runtime.service.token_bucket import TokenBucket

__all__ = [
    "BusLogHandler",
    "LogGate",
    "find_log_forwarder",
    "install_log_forwarding",
    "level_name",
    "redact",
]

Publish = Callable[[str, bytes], Awaitable[None]]

REDACTED = "[REDACTED]"
_SECRETS = (
    (
        re.compile(
            r"(?i)([?&;](?:access_token|token|id_token|password|secret|api_key|apikey)=)[^&\s\"']*"
        ),
        rf"\1{REDACTED}",
    ),
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+"), rf"\1 {REDACTED}"),
    (re.compile(r"\beyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*"), REDACTED),
)

_forwarding: contextvars.ContextVar[bool] = contextvars.ContextVar("forwarding", default=False)


def level_name(levelno: int) -> LogLevel:
    if levelno >= logging.CRITICAL:
        return "critical"
    if levelno >= logging.ERROR:
        return "error"
    if levelno >= logging.WARNING:
        return "warning"
    if levelno >= logging.INFO:
        return "info"
    return "debug"


class LogGate:
    """The rate limit. Pure: ``admit`` is told the time and says whether the record passes and
    how many records were dropped since the last one that passed (to be reported once)."""

    def __init__(self, rate_per_second: float, burst: float) -> None:
        self._bucket = TokenBucket(rate_per_second, burst)
        self.dropped = 0

    def admit(self, now: float) -> tuple[bool, int]:
        if not self._bucket.take(now):
            self.dropped += 1
            return False, 0
        dropped, self.dropped = self.dropped, 0
        return True, dropped


@dataclass(frozen=True)
class _Pending:
    level: LogLevel
    message: str
    logger: str
    timestamp: int


class BusLogHandler(logging.Handler):
    def __init__(
        self,
        level: int | str,
        rate_per_second: float,
        burst: float,
        max_pending: int = 1000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(level)
        self._gate = LogGate(rate_per_second, burst)
        self._clock = clock
        self._pending: deque[_Pending] = deque(maxlen=max_pending)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake_up: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if _forwarding.get():
            return
        try:
            admitted, dropped = self._gate.admit(self._clock())
            if not admitted:
                return
            timestamp = int(record.created * 1000)
            if dropped:
                notice = f"{dropped} log records were not forwarded (log rate limit)"
                self._pending.append(_Pending("warning", notice, __name__, timestamp))
            self._pending.append(
                _Pending(
                    level_name(record.levelno),
                    _message(record),
                    record.name,
                    timestamp,
                )
            )
            self._wake()
        except Exception:
            self.handleError(record)

    def attach(self, publish: Publish, source: str, instance: str) -> None:
        """Start forwarding (what was logged before is sent first), from the running loop."""
        self._loop = asyncio.get_running_loop()
        self._wake_up = asyncio.Event()
        self._task = asyncio.create_task(self._forward(publish, source, instance))
        self._wake_up.set()

    async def detach(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = self._loop = self._wake_up = None

    def _wake(self) -> None:
        loop, event = self._loop, self._wake_up
        if loop is None or event is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            event.set()
        else:
            loop.call_soon_threadsafe(event.set)

    async def _forward(self, publish: Publish, source: str, instance: str) -> None:
        _forwarding.set(True)  # this task's own records (and its callees') are not forwarded
        subject = subjects.logs_record(source)
        assert self._wake_up is not None
        while True:
            await self._wake_up.wait()
            self._wake_up.clear()
            while self._pending:
                item = self._pending.popleft()
                record = LogRecord(
                    level=item.level,
                    message=item.message,
                    source=source,
                    instance=instance,
                    logger=item.logger,
                    timestamp=item.timestamp,
                )
                with contextlib.suppress(Exception):  # NATS away: the record is lost
                    await publish(subject, record.encode())


def redact(text: str) -> str:
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


def _message(record: logging.LogRecord) -> str:
    message = record.getMessage()
    if record.exc_info and record.exc_info[1] is not None:
        error = record.exc_info[1]
        message = f"{message}: {type(error).__name__}: {error}"
    return redact(message)[:MAX_LOG_MESSAGE_LENGTH]


def install_log_forwarding(level: int | str, rate_per_second: float, burst: float) -> BusLogHandler:
    """Put a ``BusLogHandler`` on the root logger (replacing one put there before)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, BusLogHandler):
            root.removeHandler(handler)
    handler = BusLogHandler(level, rate_per_second, burst)
    root.addHandler(handler)
    return handler


def find_log_forwarder() -> BusLogHandler | None:
    """The handler ``install_log_forwarding`` installed, if any (not in in-process tests)."""
    return next((h for h in logging.getLogger().handlers if isinstance(h, BusLogHandler)), None)
