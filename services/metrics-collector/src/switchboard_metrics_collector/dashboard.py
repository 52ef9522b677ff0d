"""What metrics-collector publishes for dashboards: every second the views and alert changes,
and the relayed log entries."""

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence

from switchboard_contracts import subjects
from switchboard_contracts.dashboard import DEFAULT_VIEW, DashboardUpdate, LogRecord

from switchboard_metrics_collector.alerts import AlertEvaluator
from switchboard_metrics_collector.cluster import ClusterView
from switchboard_metrics_collector.host import HostSampler
from switchboard_metrics_collector.log_relay import LogRelay
from switchboard_metrics_collector.metrics import ALERTS_RAISED
from switchboard_metrics_collector.views import build_views

__all__ = ["DashboardPublisher"]

log = logging.getLogger(__name__)

Publish = Callable[[str, bytes], Awaitable[None]]


class DashboardPublisher:
    def __init__(
        self,
        publish: Publish,
        *,
        cluster: ClusterView,
        sampler: HostSampler,
        evaluator: AlertEvaluator,
        relay: LogRelay,
        teams: Mapping[str, Sequence[str]],
        interval_seconds: float,
    ) -> None:
        self._publish = publish
        self._cluster = cluster
        self._sampler = sampler
        self._evaluator = evaluator
        self._relay = relay
        self._teams = teams
        self._interval = interval_seconds
        self._task: asyncio.Task[None] | None = None

    async def tick(self) -> DashboardUpdate:
        now_ms = int(time.time() * 1000)
        views = build_views(self._teams, self._sampler.sample(), self._cluster, now_ms)
        for change in self._evaluator.evaluate(views[DEFAULT_VIEW].metrics, time.monotonic()):
            log.log(
                logging.INFO if change.resolved else logging.WARNING,
                "alert %s %s: %s",
                change.rule,
                "resolved" if change.resolved else "raised",
                change.message,
            )
            await self._publish(subjects.DASHBOARD_ALERT, change.encode())
            if not change.resolved:
                ALERTS_RAISED.labels(change.severity).inc()
        update = DashboardUpdate(views=views, active_alerts=self._evaluator.active())
        await self._publish(subjects.DASHBOARD_METRICS, update.encode())
        return update

    async def on_log(self, record: LogRecord) -> None:
        for entry in self._relay.relay(record, time.monotonic()):
            await self._publish(subjects.dashboard_log(entry.level, entry.source), entry.encode())

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time() + self._interval  # a first CPU reading needs an interval behind it
        while True:
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            try:
                await self.tick()
            except Exception:
                log.exception("publishing dashboard metrics failed")
            next_at += self._interval
            if next_at <= loop.time():  # fell behind: skip the missed ticks, never burst them
                next_at = loop.time() + self._interval
