"""Run the load generator against a running system and measure the system while it runs.

``run_measured`` attaches to every step of the result the CPU the server and the rest of the
system used over that step's sending window (``serverCpuSeconds``, ``serverCpuFraction``,
``systemCpu`` per component, ``restCpuFraction``, ``serverWaitFraction``: the share of the
window the server's event loop was runnable but waited for its core, beyond what its own other
threads ran) and ``serverCpuMicrosPerDelivery`` with
its kernel part, ``serverKernelMicrosPerDelivery``. In
``idle`` mode it records the server's RSS before the connections open and while they are held
(``rssBefore``, ``rssHeld``, ``bytesPerConnection``) and the RSS growth of the rest of the
system meanwhile (``othersGrowth``: NATS holds a subscription per connected user).
"""

import time
from typing import Any

from switchboard_bench.loadgen import Event, run_loadgen
from switchboard_bench.targets import CpuSnapshot, RunningSystem

__all__ = ["run_measured"]

RSS_SETTLE_SECONDS = 2.0


def run_measured(
    system: RunningSystem, config: dict[str, Any], core: int | None, timeout: float
) -> dict[str, Any]:
    starts: dict[int, tuple[float, CpuSnapshot]] = {}
    windows: dict[int, tuple[float, CpuSnapshot]] = {}
    memory: dict[str, Any] = {"rssBefore": system.rss_bytes()}
    others_before = system.others_rss_bytes()

    def on_event(event: Event) -> None:
        kind = event["event"]
        if kind == "step-start":
            starts[int(event["step"])] = (time.monotonic(), system.cpu_snapshot())
        elif kind == "step-end":
            step = int(event["step"])
            began, before = starts[step]
            windows[step] = (time.monotonic() - began, system.cpu_snapshot().minus(before))
        elif kind == "holding":
            memory["rssHeld"] = _settled_rss(system)
            held = system.others_rss_bytes()
            memory["othersGrowth"] = {k: v - others_before.get(k, v) for k, v in held.items()}

    result = run_loadgen(system.loadgen_config(**config), core, timeout, on_event)
    for step in result.get("steps", []):
        window = windows.get(int(step["step"]))
        if window is None:
            continue
        seconds, used = window
        step["serverCpuSeconds"] = used.server
        step["serverCpuFraction"] = used.server / seconds
        step["systemCpu"] = {k: v for k, v in used.seconds.items() if k != "server"}
        step["restCpuFraction"] = used.rest / seconds
        step["serverWaitFraction"] = max(0.0, used.server_wait) / seconds
        delivered = step.get("deliveredInWindow") or 0
        step["serverCpuMicrosPerDelivery"] = used.server * 1e6 / delivered if delivered else None
        step["serverKernelMicrosPerDelivery"] = (
            used.server_kernel * 1e6 / delivered if delivered else None
        )
        step["systemCpuMicrosPerDelivery"] = (
            (used.server + used.rest) * 1e6 / delivered if delivered else None
        )
    if "rssHeld" in memory:
        open_connections = int(result["connections"]["open"])
        memory["bytesPerConnection"] = (
            (memory["rssHeld"] - memory["rssBefore"]) // open_connections if open_connections else 0
        )
    result["memory"] = memory
    return result


def _settled_rss(system: RunningSystem) -> int:
    """The server's RSS once it stops growing (the last connections' buffers allocated)."""
    deadline = time.monotonic() + 10 * RSS_SETTLE_SECONDS
    last = system.rss_bytes()
    while time.monotonic() < deadline:
        time.sleep(RSS_SETTLE_SECONDS / 4)
        now = system.rss_bytes()
        if abs(now - last) < 256 * 1024:
            return now
        last = now
    return last
