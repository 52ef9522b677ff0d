"""The host's figures are measured, none left at zero."""

import time

from switchboard_metrics_collector.host import HostSampler


def test_every_host_figure_is_measured() -> None:
    sampler = HostSampler("/")
    sum(n * n for n in range(200_000))  # some CPU time between the two readings
    sample = sampler.sample()
    assert 0 < sample.memory_usage <= 100
    assert sample.memory_total > 0
    assert 0 < sample.disk_usage <= 100
    assert sample.uptime > 0
    assert 0 <= sample.cpu_usage <= 100
    assert round(sample.cpu_usage, 2) == sample.cpu_usage


def test_samples_closer_than_the_minimum_interval_repeat_the_cpu_reading() -> None:
    """A late tick followed at once by the next must not measure CPU over no time (0 %)."""
    now = [0.0]
    sampler = HostSampler("/", clock=lambda: now[0])
    busy_until = time.monotonic() + 0.2
    while time.monotonic() < busy_until:  # some real CPU work for the first reading to see
        pass
    now[0] = 1.0
    first = sampler.sample().cpu_usage
    now[0] = 1.01
    assert sampler.sample().cpu_usage == first
    assert first > 0
