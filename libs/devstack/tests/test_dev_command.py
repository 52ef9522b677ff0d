"""`make dev` (switchboard-dev): everything comes up, and Ctrl-C leaves nothing behind."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest
from switchboard_devstack.ports import port_in_use
from switchboard_devstack.services import SERVICES
from switchboard_devstack.stores import scratch_dir

pytestmark = pytest.mark.e2e

START_TIMEOUT_SECONDS = 90.0
STOP_TIMEOUT_SECONDS = 45.0


def free_block(size: int) -> int:
    """A base port with ``size`` free consecutive ports above it."""
    for base in range(21000, 40000, 37):
        if not any(port_in_use(base + i) for i in range(size)):
            return base
    raise RuntimeError("no free block of ports")


def wait_for_line(log: Path, marker: str, proc: subprocess.Popen[bytes], timeout: float) -> str:
    """The log's text once ``marker`` appears in it (or fail with the log's tail)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        if marker in text:
            return text
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
    raise AssertionError(f"{marker!r} did not appear; output ends:\n{tail}")


def test_dev_starts_everything_and_ctrl_c_leaves_nothing_behind(artifacts_dir: Path) -> None:
    data_dir = scratch_dir("sb-dev-")
    base = free_block(len(SERVICES) + 2)
    env = {k: v for k, v in os.environ.items() if k not in {"NATS_URL", "DATABASE_URL"}}
    log = artifacts_dir / "switchboard-dev.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "switchboard-dev"),
                "--data-dir",
                str(data_dir),
                "--base-port",
                str(base),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        summary = wait_for_line(log, "Press Ctrl-C", proc, START_TIMEOUT_SECONDS)
        children = psutil.Process(proc.pid).children(recursive=True)
        for i in range(len(SERVICES)):
            assert httpx.get(f"http://127.0.0.1:{base + i}/readyz", timeout=5).status_code == 200
        for spec in SERVICES:
            assert spec.name in summary
        assert f"http://localhost:{base + len(SERVICES) - 1}/" in summary  # the demo page

        proc.send_signal(signal.SIGINT)
        assert proc.wait(STOP_TIMEOUT_SECONDS) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert children, "the services and stores run as child processes"
    _, alive = psutil.wait_procs(children, timeout=5)
    assert not alive, f"left behind: {[p.cmdline() for p in alive]}"
    assert not any(port_in_use(base + i) for i in range(len(SERVICES) + 2))
    assert (data_dir / "postgres" / "PG_VERSION").exists()  # data is kept between runs
