"""What a scenario hands the report: its figures, its targets as met or not, its plots.

Each scenario's result is written to ``bench/results/<scenario>.json`` so that the report can be
rebuilt from the last run of every scenario without running them again.
"""

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ScenarioResult", "Target", "field_at", "load_results"]

Cell = str | int | float | None


def field_at(data: object, *path: str) -> Any:
    """``data[path[0]][path[1]]...`` of a saved result; None where a key is missing."""
    found: Any = data
    for key in path:
        if not isinstance(found, dict) or key not in found:
            return None
        found = found[key]
    return found


@dataclass(frozen=True)
class Target:
    """One target of issue 10, as the report's summary table shows it."""

    name: str
    """What is measured, e.g. "Fan-out capacity"."""
    goal: str
    """The target as a sentence, e.g. ">= 1.25x the Node.js ws server's, same run"."""
    measured: str
    """The measured figure with its ratio, e.g. "1.31x (157,000 vs 120,000 deliveries/s)"."""
    met: bool | None
    """None when it could not be measured in this run (``limit`` says why)."""
    limit: str = ""
    """For a target not met (or not measured): what limits it."""


@dataclass
class ScenarioResult:
    scenario: str
    """The scenario's name, as ``switchboard-bench --only`` takes it."""
    title: str
    method: str
    """Markdown: what was run, how load was offered, how it was measured."""
    columns: list[str]
    rows: list[list[Cell]]
    """The scenario's table, one row per system (gateway, node-ws, websockets) or step."""
    targets: list[Target] = field(default_factory=list)
    plots: list[str] = field(default_factory=list)
    """PNG file names, relative to the report's folder."""
    notes: list[str] = field(default_factory=list)
    """Markdown bullet points: observations, load generator CPU, anything odd in the run."""
    data: dict[str, object] = field(default_factory=dict)
    """Raw figures for later scenarios or the scaling model (JSON-serialisable)."""

    def save(self, results_dir: Path) -> Path:
        results_dir.mkdir(parents=True, exist_ok=True)
        path = results_dir / f"{self.scenario}.json"
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")
        return path

    @classmethod
    def load(cls, path: Path) -> "ScenarioResult":
        raw = json.loads(path.read_text())
        raw["targets"] = [Target(**t) for t in raw.get("targets", [])]
        return cls(**raw)


def load_results(results_dir: Path) -> dict[str, ScenarioResult]:
    return {path.stem: ScenarioResult.load(path) for path in sorted(results_dir.glob("*.json"))}
