"""The host's figures, measured with psutil: CPU, memory and disk usage, uptime."""

import time
from collections.abc import Callable
from dataclasses import dataclass

import psutil

__all__ = ["HostSample", "HostSampler"]


@dataclass(frozen=True)
class HostSample:
    cpu_usage: float
    """Percent of all CPUs busy since the previous sample."""
    memory_usage: float
    memory_total: int
    disk_usage: float
    uptime: float
    """Seconds since the host booted."""


MIN_CPU_INTERVAL_SECONDS = 0.5


class HostSampler:
    """CPU usage is measured since the previous measurement, never over less than
    ``MIN_CPU_INTERVAL_SECONDS``: two samples close together (a late tick followed by the next)
    would measure nothing and read 0 %, so the second repeats the first."""

    def __init__(self, disk_path: str = "/", clock: Callable[[], float] = time.monotonic) -> None:
        self._disk_path = disk_path
        self._clock = clock
        psutil.cpu_percent(interval=None)  # the first reading only starts the measurement
        self._cpu_at = clock()
        self._cpu: float | None = None

    def _cpu_usage(self) -> float:
        now = self._clock()
        if self._cpu is None or now - self._cpu_at >= MIN_CPU_INTERVAL_SECONDS:
            self._cpu = round(float(psutil.cpu_percent(interval=None)), 2)
            self._cpu_at = now
        return self._cpu

    def sample(self) -> HostSample:
        memory = psutil.virtual_memory()
        return HostSample(
            cpu_usage=self._cpu_usage(),
            memory_usage=round(float(memory.percent), 2),
            memory_total=int(memory.total),
            disk_usage=round(float(psutil.disk_usage(self._disk_path).percent), 2),
            uptime=round(time.time() - float(psutil.boot_time()), 2),
        )
