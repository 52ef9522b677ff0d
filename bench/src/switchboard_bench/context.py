"""What every scenario is given: where to write, how big to run, which cores to pin to."""

from dataclasses import dataclass
from pathlib import Path

__all__ = ["BenchContext"]


@dataclass(frozen=True)
class BenchContext:
    out_dir: Path
    """``bench/``: REPORT.md, the PNG plots and ``profiles/`` go here."""
    work_dir: Path
    """Scratch space for stores and logs (``.switchboard/bench``), never committed."""
    quick: bool = False
    """A smoke run: tiny loads, seconds per scenario, for tests; figures are not meaningful."""
    server_core: int = 0
    """The server under test (the gateway, or a reference server) is pinned here."""
    loadgen_core: int = 1
    """The load generator is pinned here (and, on 2 cores, the rest of the system with it)."""
    profile: bool = False
    """Record py-spy flame graphs of the gateway into ``out_dir/profiles`` (``--profile``)."""
    profile_format: str = "svg"
    """``svg`` (flame graphs) or ``txt`` (py-spy's collapsed stacks, to aggregate by frame)."""
    systems: tuple[str, ...] = ("gateway", "node-ws", "websockets")
    """The systems the side-by-side scenarios run (``--systems``), in the report's order."""
    results_path: Path | None = None
    """Where results are written (``--results-dir``); None: ``out_dir/results``."""
    chat_capacity_references: bool = False
    """``chat_capacity`` runs the reference servers too (context: they have no durable path)."""

    @property
    def results_dir(self) -> Path:
        return self.results_path if self.results_path is not None else self.out_dir / "results"

    @property
    def profiles_dir(self) -> Path:
        return self.out_dir / "profiles"

    def profile_path(self, name: str) -> Path:
        """Where the profile called ``name`` goes, in the chosen format."""
        return self.profiles_dir / f"{name}.{self.profile_format}"
