"""The demo's browser client module (static/js/switchboard.js), tested with Node's test runner:
backoff, offline queue, resend with clientMsgId, resume with since / Last-Event-ID; and the tabs
sharing one connection (shared-tabs.test.mjs): election, routing, hand-over, logout, token."""

import shutil
import subprocess
from pathlib import Path

import pytest

TESTS = Path(__file__).parent / "js"


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node (scripts/system-deps.sh)")
def test_the_browser_client_module_passes_its_node_tests() -> None:
    node = shutil.which("node")
    assert node is not None
    files = sorted(str(path) for path in TESTS.glob("*.test.mjs"))
    result = subprocess.run(
        [node, "--test", *files], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "# fail 0" in result.stdout
