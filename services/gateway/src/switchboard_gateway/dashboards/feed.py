"""The dashboards' bus side in a gateway: metrics-collector's messages in, listeners called.

The feed follows ``dashboard.metrics`` and ``dashboard.alert`` from start (one small message a
second) and keeps the latest update, so a new dashboard client gets current figures at once;
it follows ``dashboard.log.>`` only while some local client wants log entries.
"""

import asyncio
import contextlib
import logging
from typing import Protocol

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from pydantic import ValidationError
from switchboard_contracts import subjects
from switchboard_contracts.dashboard import DashboardAlert, DashboardUpdate, LogEntry
from switchboard_runtime import Bus

__all__ = ["DashboardFeed", "DashboardListener"]

log = logging.getLogger(__name__)

FIRST_UPDATE_WAIT_SECONDS = 3.0


class DashboardListener(Protocol):
    async def on_update(self, update: DashboardUpdate) -> None: ...

    async def on_alert(self, alert: DashboardAlert) -> None: ...

    async def on_log(self, entry: LogEntry) -> None: ...


class DashboardFeed:
    def __init__(self, bus: Bus) -> None:
        self._bus = bus
        self._listeners: list[DashboardListener] = []
        self._subscriptions: list[Subscription] = []
        self._logs: Subscription | None = None
        self._log_interest = 0
        self._log_lock = asyncio.Lock()
        self._pending: set[asyncio.Task[None]] = set()
        self.latest: DashboardUpdate | None = None
        self._first_update = asyncio.Event()

    def add_listener(self, listener: DashboardListener) -> None:
        self._listeners.append(listener)

    async def start(self) -> None:
        nc = self._bus.nc
        self._subscriptions = [
            await nc.subscribe(subjects.DASHBOARD_METRICS, cb=self._on_metrics),
            await nc.subscribe(subjects.DASHBOARD_ALERT, cb=self._on_alert),
        ]
        if self._log_interest:
            await self._follow_logs()

    async def stop(self) -> None:
        for task in list(self._pending):
            task.cancel()
        for subscription in self._subscriptions:
            await subscription.unsubscribe()
        self._subscriptions = []

    def want_logs(self, wanted: bool) -> None:
        """One more (or one fewer) local client wants log entries; follows the subject while any
        does. Never waits: the subscription changes in the background, in order."""
        self._log_interest += 1 if wanted else -1
        task = asyncio.create_task(self._follow_logs())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def logs_followed(self) -> None:
        """Returns once log entries are followed (when some client wants them), the NATS server
        included, and the teams' views are known (entries wait for them): what is published
        from then on reaches this gateway's clients."""
        await self._follow_logs()
        if self._logs is not None:
            await self._bus.nc.flush()
        with contextlib.suppress(TimeoutError):  # metrics-collector is away: no entries anyway
            async with asyncio.timeout(FIRST_UPDATE_WAIT_SECONDS):
                await self._first_update.wait()

    async def _follow_logs(self) -> None:
        async with self._log_lock:
            if not self._bus.connected:
                return
            if self._log_interest > 0 and self._logs is None:
                self._logs = await self._bus.nc.subscribe(
                    subjects.DASHBOARD_LOG_ALL, cb=self._on_log
                )
            elif self._log_interest <= 0 and self._logs is not None:
                subscription, self._logs = self._logs, None
                await subscription.unsubscribe()

    async def _on_metrics(self, msg: Msg) -> None:
        try:
            update = DashboardUpdate.decode(msg.data)
        except ValidationError:
            log.warning("ignoring an undecodable dashboard update")
            return
        self.latest = update
        self._first_update.set()
        for listener in self._listeners:
            await listener.on_update(update)

    async def _on_alert(self, msg: Msg) -> None:
        try:
            alert = DashboardAlert.decode(msg.data)
        except ValidationError:
            log.warning("ignoring an undecodable alert")
            return
        for listener in self._listeners:
            await listener.on_alert(alert)

    async def _on_log(self, msg: Msg) -> None:
        try:
            entry = LogEntry.decode(msg.data)
        except ValidationError:
            return
        for listener in self._listeners:
            await listener.on_log(entry)
