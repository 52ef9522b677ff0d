"""``switchboard-bench`` (``make bench``): run the scenarios, then rewrite ``bench/REPORT.md``."""

import argparse
import contextlib
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from switchboard_bench.context import BenchContext
from switchboard_bench.report import machine_info, write_report
from switchboard_bench.scenarios import SCENARIOS
from switchboard_bench.targets import SYSTEMS

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="switchboard-bench", description=__doc__)
    parser.add_argument("--only", default="", help="comma-separated scenarios; default: all")
    parser.add_argument("--quick", action="store_true", help="tiny loads: a smoke run, not figures")
    parser.add_argument("--out", type=Path, default=Path("bench"), help="where REPORT.md goes")
    parser.add_argument(
        "--systems",
        default=",".join(SYSTEMS),
        help=f"comma-separated systems to compare; default: {','.join(SYSTEMS)}",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="record py-spy flame graphs of the gateway under load into <out>/profiles",
    )
    parser.add_argument(
        "--profile-format",
        choices=("svg", "txt"),
        default="svg",
        help="with --profile: flame graphs (svg) or py-spy's collapsed stacks (txt)",
    )
    parser.add_argument(
        "--report-only", action="store_true", help="only rebuild REPORT.md from the saved results"
    )
    parser.add_argument("--work", type=Path, default=Path(".switchboard/bench"))
    parser.add_argument(
        "--results-dir",
        type=Path,
        default=None,
        help="where the scenarios' results go (default: <out>/results); "
        "--results-dir bench/results/baseline records the baseline (today's main)",
    )
    parser.add_argument(
        "--baseline-dir",
        type=Path,
        default=None,
        help="the baseline's results the report compares with (default: <out>/results/baseline)",
    )
    parser.add_argument(
        "--chat-capacity-references",
        action="store_true",
        help="chat_capacity also runs the reference servers (context only: no durable path)",
    )
    args = parser.parse_args(argv)
    chosen = [name for name in args.only.split(",") if name] or list(SCENARIOS)
    unknown = [name for name in chosen if name not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(SCENARIOS)}")
    systems = tuple(name for name in args.systems.split(",") if name)
    if bad := [name for name in systems if name not in SYSTEMS]:
        parser.error(f"unknown system(s) {', '.join(bad)}; known: {', '.join(SYSTEMS)}")
    ctx = BenchContext(
        out_dir=args.out,
        work_dir=args.work,
        quick=args.quick,
        systems=systems,
        profile=args.profile,
        profile_format=args.profile_format,
        results_path=args.results_dir,
        chat_capacity_references=args.chat_capacity_references,
    )
    baseline_dir = args.baseline_dir or args.out / "results" / "baseline"
    if not args.report_only:
        keep_off_the_server_core(ctx.loadgen_core)
        machine = machine_info(speed_core=ctx.server_core)
        commit = source_commit()
        for name in chosen:
            print(f"== {name}", flush=True)
            started = time.monotonic()
            result = SCENARIOS[name](ctx)
            result.data.setdefault("machine", machine)
            result.data.setdefault(
                "topology", {"server": ctx.server_core, "loadgen": ctx.loadgen_core}
            )
            result.data.setdefault("ranAt", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))
            result.data.setdefault("quick", ctx.quick)
            result.data.setdefault("commit", commit)
            result.data.setdefault("seconds", round(time.monotonic() - started, 1))
            print(f"   {name}: {time.monotonic() - started:.0f} s", flush=True)
            result.save(ctx.results_dir)
    # A run recording the baseline leaves the report on the results it is compared with.
    recorded_baseline = ctx.results_dir.resolve() == baseline_dir.resolve()
    report_from = args.out / "results" if recorded_baseline else ctx.results_dir
    if recorded_baseline:
        print(f"   {baseline_dir} is the baseline; report from {report_from}", flush=True)
    print(f"report: {write_report(args.out, report_from, baseline_dir)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())


def source_commit() -> str:
    """The commit of the tree the services ran from (``git rev-parse HEAD``), with ``+dirty``
    when services/ or libs/ differ from it: a baseline is only today's main if they do not."""
    root = Path(__file__).resolve().parents[3]
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "services", "libs"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def keep_off_the_server_core(core: int) -> None:
    """This driver (and what it starts, unless a scenario pins it elsewhere) runs on the load
    generator's core: it reads results and meters processes during a step, and on the server's
    core it would be the "other process" the quiet-run check reports."""
    with contextlib.suppress(AttributeError, OSError, ValueError):  # not Linux, or no such core
        os.sched_setaffinity(0, {core})
