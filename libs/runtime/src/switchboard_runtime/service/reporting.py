"""What every service sends metrics-collector while it runs: a ``ServiceReport`` every second
and its log records. Each service's lifespan starts it once the bus is connected::

    reporting = await start_reporting(bus, settings, "chat")
    ...
    await reporting.stop()
"""

import os
import socket

from switchboard_runtime.messaging.bus import Bus
from switchboard_runtime.service.activity import ACTIVITY, Activity
from switchboard_runtime.service.reporter import ServiceReporter
from switchboard_runtime.service.settings import ServiceSettings
from switchboard_runtime.telemetry.log_forwarding import BusLogHandler, find_log_forwarder

__all__ = ["Reporting", "instance_name", "start_reporting"]


def instance_name(settings: ServiceSettings) -> str:
    return settings.instance_id or f"{socket.gethostname()}:{os.getpid()}"


class Reporting:
    def __init__(self, reporter: ServiceReporter, forwarder: BusLogHandler | None) -> None:
        self.reporter = reporter
        self._forwarder = forwarder

    async def stop(self) -> None:
        await self.reporter.stop()
        if self._forwarder is not None:
            await self._forwarder.detach()


async def start_reporting(
    bus: Bus, settings: ServiceSettings, service: str, activity: Activity = ACTIVITY
) -> Reporting:
    instance = instance_name(settings)

    async def publish(subject: str, data: bytes) -> None:
        await bus.nc.publish(subject, data)

    reporter = ServiceReporter(
        publish, service, instance, activity, interval_seconds=settings.report_interval_seconds
    )
    reporter.start()
    forwarder = find_log_forwarder()
    if forwarder is not None:
        forwarder.attach(publish, service, instance)
    return Reporting(reporter, forwarder)
