"""A service's ``ServiceReport`` to metrics-collector every second (``metrics.report.<svc>``)."""

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from switchboard_contracts import ServiceReport, subjects

from switchboard_runtime.service.activity import Activity

__all__ = ["ServiceReporter"]

log = logging.getLogger(__name__)

Publish = Callable[[str, bytes], Awaitable[None]]


class ServiceReporter:
    def __init__(
        self,
        publish: Publish,
        service: str,
        instance: str,
        activity: Activity,
        *,
        interval_seconds: float = 1.0,
        clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self._publish = publish
        self._subject = subjects.metrics_report(service)
        self._service = service
        self._instance = instance
        self._activity = activity
        self._interval = interval_seconds
        self._clock_ms = clock_ms
        self._task: asyncio.Task[None] | None = None

    def report(self) -> ServiceReport:
        return ServiceReport(
            service=self._service,
            instance=self._instance,
            timestamp=self._clock_ms(),
            active_connections=self._activity.connections,
            requests_total=self._activity.requests_total,
        )

    async def publish_now(self) -> None:
        try:
            await self._publish(self._subject, self.report().encode())
        except Exception as err:  # NATS away: the next report goes out when it is back
            log.debug("a service report was not sent: %s", err)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await self.publish_now()
            await asyncio.sleep(self._interval)
