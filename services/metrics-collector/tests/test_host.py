"""The host's figures are measured, none left at zero."""

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
