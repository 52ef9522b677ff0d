"""The host's figures, measured with psutil: CPU, memory and disk usage, uptime."""

import time
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


class HostSampler:
    def __init__(self, disk_path: str = "/") -> None:
        self._disk_path = disk_path
        psutil.cpu_percent(interval=None)  # the first reading only starts the measurement

    def sample(self) -> HostSample:
        memory = psutil.virtual_memory()
        return HostSample(
            cpu_usage=round(float(psutil.cpu_percent(interval=None)), 2),
            memory_usage=round(float(memory.percent), 2),
            memory_total=int(memory.total),
            disk_usage=round(float(psutil.disk_usage(self._disk_path).percent), 2),
            uptime=round(time.time() - float(psutil.boot_time()), 2),
        )
