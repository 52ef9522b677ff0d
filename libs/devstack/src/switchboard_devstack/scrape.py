"""One metric of a running service, read from its ``/metrics`` as Prometheus would."""

import asyncio

import httpx
from prometheus_client.parser import text_string_to_metric_families

__all__ = ["by_transport", "total", "until_connections_at_most"]


async def by_transport(base_url: str, sample_name: str) -> dict[str, float]:
    """The samples named ``sample_name`` (a counter's ends in ``_total``), keyed by their
    ``transport`` label: a transport with none yet is absent."""
    async with httpx.AsyncClient(timeout=10) as http:
        text = (await http.get(f"{base_url}/metrics")).text
    return {
        sample.labels["transport"]: float(sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == sample_name and "transport" in sample.labels
    }


async def total(base_url: str, sample_name: str, **labels: str) -> float:
    """The sum of the samples named ``sample_name`` whose labels include ``labels`` (0 when a
    counter has none yet)."""
    async with httpx.AsyncClient(timeout=10) as http:
        text = (await http.get(f"{base_url}/metrics")).text
    return sum(
        float(sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == sample_name and labels.items() <= sample.labels.items()
    )


async def until_connections_at_most(
    base_url: str, transport: str, count: float, timeout: float = 10.0
) -> None:
    """Poll a gateway's open connections of ``transport`` until at most ``count`` are left. A
    connection's slot is given back once its session ended (after its client saw the end), and
    before the gauge, counted outside, drops."""
    async with asyncio.timeout(timeout):
        while (  # noqa: ASYNC110 (polling /metrics)
            await by_transport(base_url, "switchboard_gateway_connections")
        ).get(transport, 0) > count:
            await asyncio.sleep(0.05)
