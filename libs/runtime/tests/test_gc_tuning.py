"""Garbage collection: thresholds from the setting, start-up frozen, every pause observed."""

import gc
from collections.abc import Iterator

import pytest
from prometheus_client import REGISTRY
from starlette.types import Message, Receive, Scope, Send
from switchboard_runtime.service.gc_tuning import (
    FreezeAfterStartup,
    observe_gc_pauses,
    parse_thresholds,
)
from switchboard_runtime.service.settings import ServiceSettings


@pytest.fixture
def unfrozen() -> Iterator[None]:
    yield
    gc.unfreeze()


def test_thresholds_are_three_whole_numbers() -> None:
    assert parse_thresholds("10000, 10,10") == (10000, 10, 10)
    for bad in ("700,10", "0,10,10", "a,b,c", "700,10,10,10", "-1,10,10"):
        with pytest.raises(ValueError, match="GC_THRESHOLDS"):
            parse_thresholds(bad)


def test_the_default_setting_is_valid_and_a_bad_one_is_refused() -> None:
    assert parse_thresholds(ServiceSettings().gc_thresholds)[0] > 700
    with pytest.raises(ValueError, match="gc_thresholds"):
        ServiceSettings(gc_thresholds="700,10")


async def test_startup_is_frozen_once_the_app_reports_it_complete(unfrozen: None) -> None:
    frozen_at_startup: list[int] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        frozen_at_startup.append(gc.get_freeze_count())
        await send({"type": "lifespan.startup.complete"})

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "lifespan.startup"}

    gc.unfreeze()
    await FreezeAfterStartup(app)({"type": "lifespan"}, receive, send)
    assert frozen_at_startup == [0]
    assert gc.get_freeze_count() > 0
    assert sent == [{"type": "lifespan.startup.complete"}]


def test_every_collection_is_observed() -> None:
    def full_pauses() -> float:
        value = REGISTRY.get_sample_value(
            "switchboard_process_gc_pause_seconds_count", {"service": "unknown", "generation": "2"}
        )
        return value or 0.0

    observe_gc_pauses()
    observe_gc_pauses()  # once only: each collection counted once
    before = full_pauses()
    gc.collect()
    assert full_pauses() == before + 1
