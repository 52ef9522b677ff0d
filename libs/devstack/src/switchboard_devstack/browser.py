"""The browser the browser tests drive: Debian's chromium, through Playwright, headless."""

import shutil

import pytest

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "needs_chromium"]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
"""Passed to Playwright's ``chromium.launch(executable_path=...)``: no browser is downloaded."""

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

needs_chromium = pytest.mark.skipif(
    shutil.which("chromium") is None,
    reason="needs Debian's chromium (scripts/system-deps.sh installs it)",
)
