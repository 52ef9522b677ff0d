"""One metric of a running service, read from its ``/metrics`` as Prometheus would."""

import httpx
from prometheus_client.parser import text_string_to_metric_families

__all__ = ["by_transport"]


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
