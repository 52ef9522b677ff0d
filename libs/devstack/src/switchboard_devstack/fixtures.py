"""pytest fixtures for component and end-to-end tests (registered as the ``switchboard`` plugin)."""

import os
import re
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.client import Client

from switchboard_devstack.notifyhttp import NotifyHttp
from switchboard_devstack.services import SERVICES
from switchboard_devstack.stack import ServiceHandle, Stack
from switchboard_devstack.still_works import StillWorks
from switchboard_devstack.stores import Stores, open_stores, source_summary

__all__ = [
    "ALL_SERVICES",
    "ARTIFACTS",
    "artifacts_dir",
    "gateway",
    "make_stack",
    "module_stack",
    "nc",
    "nc_commands",
    "notify_api_fixture",
    "stack_fixture",
    "still_works",
    "stores",
    "unthrottled",
]

ARTIFACTS = Path(os.environ.get("SWITCHBOARD_TEST_ARTIFACTS", "test-artifacts"))

ALL_SERVICES: tuple[str, ...] = tuple(spec.name for spec in SERVICES)
"""The five services, in the order they start (persistence first: it migrates)."""


def pytest_report_header() -> str:
    return f"switchboard: {source_summary()}; logs and screenshots in {ARTIFACTS}/"


@pytest.fixture(scope="session")
def stores() -> Iterator[Stores]:
    """NATS and a fresh PostgreSQL database for this test run."""
    with open_stores(ARTIFACTS / "stores") as found:
        yield found


@pytest.fixture
async def nc(stores: Stores) -> AsyncIterator[Client]:
    """A plain nats-py connection to this run's NATS, closed after the test."""
    client = await nats.connect(stores.nats_url)
    yield client
    await client.close()


@pytest.fixture
def nc_commands(nc: Client) -> list[bytes]:
    """Every protocol command ``nc`` queues from the test's start: the bytes nats-py would
    write (for tests that pin our writes against nats-py's own)."""
    recorded: list[bytes] = []
    send = nc._send_command

    async def record(cmd: bytes, priority: bool = False) -> None:
        recorded.append(cmd)
        await send(cmd, priority)

    nc._send_command = record  # type: ignore[method-assign]
    return recorded


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


def service_of(label: str) -> str:
    """The service an instance runs: ``gateway-2`` a gateway, ``metrics-collector`` itself."""
    for name in sorted(ALL_SERVICES, key=len, reverse=True):
        if label == name or label.startswith(f"{name}-"):
            return name
    raise KeyError(f"{label!r} names no service; known: {', '.join(ALL_SERVICES)}")


def module_stack(
    stores: Stores,
    log_name: str,
    *labels: str,
    env: Mapping[str, str] | None = None,
    env_of: Mapping[str, Mapping[str, str]] | None = None,
    nats_url: str | None = None,
    database_url: str | None = None,
) -> Stack:
    """A stack of one test module, not started yet (``with`` it): one instance per label, in
    order (``gateway-2`` is a second gateway), ``env`` for all of them and ``env_of[label]``
    for one; logs in ``test-artifacts/<log_name>/``, NATS at ``nats_url`` if not the run's (and
    then a database of its own too, ``Stores.another_database``)."""
    unknown = set(env_of or {}) - set(labels)
    if unknown:
        raise KeyError(f"env_of names instances the stack does not have: {sorted(unknown)}")
    stack = Stack(
        nats_url or stores.nats_url,
        database_url or stores.database_url,
        log_dir=ARTIFACTS / log_name,
        env={"LOG_LEVEL": "INFO", **(env or {})},
    )
    for label in labels:
        stack.add(service_of(label), label=label, env=(env_of or {}).get(label))
    return stack


def unthrottled(frames_per_second: int) -> dict[str, str]:
    """A gateway's settings letting each client and each user send ``frames_per_second`` (and
    as many at once), for tests whose subject is not the rate limits."""
    rate = str(frames_per_second)
    return {
        "CLIENT_FRAMES_PER_SECOND": rate,
        "CLIENT_FRAME_BURST": rate,
        "USER_FRAMES_PER_SECOND": rate,
        "USER_FRAME_BURST": rate,
    }


def stack_fixture(
    log_name: str,
    *labels: str,
    env: Mapping[str, str] | None = None,
    env_of: Mapping[str, Mapping[str, str]] | None = None,
) -> Any:
    """A module-scoped fixture running ``module_stack(stores, log_name, *labels, ...)`` for the
    module's tests: ``stack = stack_fixture("e2e-chat-rooms", *ALL_SERVICES, "gateway-2")``."""

    @pytest.fixture(scope="module")
    def stack(stores: Stores) -> Iterator[Stack]:
        with module_stack(stores, log_name, *labels, env=env, env_of=env_of) as running:
            yield running

    return stack


@pytest.fixture(scope="module")
def gateway(stack: Stack) -> ServiceHandle:
    """The module stack's ``gateway``, for modules whose tests speak to one."""
    return stack["gateway"]


@pytest.fixture
def still_works(stack: Stack, stores: Stores) -> StillWorks:
    """The proof a hostile-input test ends with, on the module stack (its gateway with
    ``tokens.auth_env()``)."""
    return StillWorks(stack, stores.database_url)


def notify_api_fixture(label: str = "gateway") -> Any:
    """A fixture of the notification HTTP API through the module stack's instance ``label``."""

    @pytest.fixture
    async def api(stack: Stack) -> AsyncIterator[NotifyHttp]:
        async with NotifyHttp(stack[label].url) as client:
            yield client

    return api
