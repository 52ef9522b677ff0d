"""pytest fixtures for component and end-to-end tests (registered as the ``switchboard`` plugin)."""

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from switchboard_devstack.stack import Stack
from switchboard_devstack.stores import Stores, open_stores, source_summary

__all__ = ["artifacts_dir", "make_stack", "stores"]

ARTIFACTS = Path(os.environ.get("SWITCHBOARD_TEST_ARTIFACTS", "test-artifacts"))


def pytest_report_header() -> str:
    return f"switchboard: {source_summary()}; logs and screenshots in {ARTIFACTS}/"


@pytest.fixture(scope="session")
def stores() -> Iterator[Stores]:
    """NATS and a fresh PostgreSQL database for this test run."""
    with open_stores(ARTIFACTS / "stores") as found:
        yield found


@pytest.fixture
def artifacts_dir(request: pytest.FixtureRequest) -> Path:
    path = ARTIFACTS / re.sub(r"[^\w.-]+", "_", request.node.nodeid)[-120:]
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def make_stack(stores: Stores, artifacts_dir: Path) -> Iterator[Callable[..., Stack]]:
    """Build stacks on this run's stores; every process they started is stopped afterwards."""
    made: list[Stack] = []

    def make(nats_url: str | None = None, database_url: str | None = None) -> Stack:
        stack = Stack(
            nats_url or stores.nats_url,
            database_url or stores.database_url,
            log_dir=artifacts_dir,
            env={"LOG_LEVEL": "INFO"},
        )
        made.append(stack)
        return stack

    yield make
    for stack in made:
        stack.stop()
