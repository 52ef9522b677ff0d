"""The report's PNG plots, drawn from the results JSON (matplotlib, Agg: no display needed).

``PLOTTERS[scenario](result, out_dir)`` writes that scenario's plots and returns their file
names; scenarios without a plotter list their own files in ``ScenarioResult.plots``.
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib as mpl

mpl.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from switchboard_bench.results import ScenarioResult
from switchboard_bench.stats import cdf, histogram_from

__all__ = ["PLOTTERS", "latency_cdf"]

Plotter = Callable[[ScenarioResult, Path], list[str]]

LABELS = {
    "gateway": "Switchboard gateway",
    "node-ws": "Node.js ws",
    "websockets": "Python websockets",
}


def _systems(result: ScenarioResult) -> dict[str, dict[str, Any]]:
    systems = result.data.get("systems", {})
    return systems if isinstance(systems, dict) else {}


def _save(fig: Figure, out_dir: Path, name: str) -> str:
    out_dir.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out_dir / name, dpi=110)
    plt.close(fig)
    return name


def latency_cdf(
    curves: dict[str, dict[str, Any] | None], title: str, out_dir: Path, name: str
) -> str | None:
    """Latency distributions (one per system) as the fraction delivered within x ms, log x."""
    fig, ax = plt.subplots(figsize=(7, 4))
    drawn = 0
    for system, raw in curves.items():
        if not raw or not raw.get("counts"):
            continue
        xs, ys = cdf(histogram_from(raw))
        ax.step(xs, ys, where="post", label=LABELS.get(system, system))
        drawn += 1
    if not drawn:
        plt.close(fig)
        return None
    ax.set_xscale("log")
    ax.set_xlabel("latency (ms, log scale)")
    ax.set_ylabel("fraction delivered within")
    ax.set_title(title)
    ax.grid(visible=True, which="both", alpha=0.3)
    ax.legend()
    return _save(fig, out_dir, name)


def fanout(result: ScenarioResult, out_dir: Path) -> list[str]:
    systems = _systems(result)
    names: list[str] = []
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 7), sharex=True)
    for system, figures in systems.items():
        steps = figures.get("steps", [])
        offered = [s["offeredDeliveries"] for s in steps]
        label = LABELS.get(system, system)
        top.plot(offered, [s["deliveriesPerSecond"] for s in steps], marker="o", label=label)
        bottom.plot(offered, [s["latency"]["p99"] for s in steps], marker="o", label=label)
    if systems:
        limit = max(
            (s["offeredDeliveries"] for f in systems.values() for s in f["steps"]), default=0
        )
        top.plot([0, limit], [0, limit], color="grey", linestyle=":", label="offered")
        top.set_ylabel("delivered frames/s")
        top.set_title("Room fan-out: throughput and p99 against offered load")
        top.legend()
        top.grid(visible=True, alpha=0.3)
        bottom.axhline(100, color="red", linestyle="--", linewidth=1, label="100 ms")
        bottom.set_yscale("log")
        bottom.set_ylabel("delivery p99 (ms, log)")
        bottom.set_xlabel("offered deliveries/s (messages/s x receivers)")
        bottom.grid(visible=True, which="both", alpha=0.3)
        bottom.legend()
        names.append(_save(fig, out_dir, "fanout-throughput.png"))
    else:
        plt.close(fig)
    rate = result.data.get("efficiencyRate")
    curves = {
        system: next(
            (s.get("histogram") for s in f.get("steps", []) if s.get("offeredRate") == rate), None
        )
        for system, f in systems.items()
    }
    drawn = latency_cdf(
        curves, f"Fan-out delivery latency at {rate} messages/s", out_dir, "fanout-latency.png"
    )
    return names + ([drawn] if drawn else [])


def _step_histograms(result: ScenarioResult, key: str, label: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for system, figures in _systems(result).items():
        steps = [s for s in figures.get("steps", []) if s.get("label") == label]
        out[system] = steps[-1].get(key) if steps else None
    return out


def latency(result: ScenarioResult, out_dir: Path) -> list[str]:
    drawn = latency_cdf(
        _step_histograms(result, "ownHistogram", "measure"),
        "Rooms of 10: the sender's own copy coming back",
        out_dir,
        "latency-rooms.png",
    )
    return [drawn] if drawn else []


def classic(result: ScenarioResult, out_dir: Path) -> list[str]:
    drawn = latency_cdf(
        _step_histograms(result, "histogram", "classic"),
        "Classic load test: every delivery",
        out_dir,
        "classic-latency.png",
    )
    return [drawn] if drawn else []


def idle_memory(result: ScenarioResult, out_dir: Path) -> list[str]:
    systems = _systems(result)
    per_conn = {
        LABELS.get(s, s): (f.get("bytesPerConnection") or 0) / 1024 for s, f in systems.items()
    }
    if not per_conn:
        return []
    fig, ax = plt.subplots(figsize=(6, 3.5))
    bars = ax.bar(
        list(per_conn), list(per_conn.values()), color=["C0", "C1", "C2"][: len(per_conn)]
    )
    ax.bar_label(bars, fmt="%.1f KB")
    ax.set_ylabel("KB of RSS per idle connection")
    ax.set_title("Memory per idle WebSocket connection")
    return [_save(fig, out_dir, "idle-memory.png")]


PLOTTERS: dict[str, Plotter] = {
    "fanout": fanout,
    "latency": latency,
    "classic": classic,
    "idle_memory": idle_memory,
}
