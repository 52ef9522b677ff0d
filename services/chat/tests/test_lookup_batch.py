import asyncio

import pytest
from switchboard_chat.lookup_batch import BatchedLookup
from switchboard_chat.store_client import StoreUnavailableError
from switchboard_contracts import ChatMessage


def stored(message_id: str) -> ChatMessage:
    return ChatMessage(id=message_id, room="r", seq=1, sender_id="al", content="hi", timestamp=1)


class Store:
    """Holds each request until released, so a test decides what is in flight."""

    def __init__(self, known: set[str]) -> None:
        self.known = known
        self.requests: list[list[str]] = []
        self.release = asyncio.Event()
        self.fail = False

    async def fetch(self, ids: list[str]) -> list[ChatMessage]:
        self.requests.append(ids)
        await self.release.wait()
        if self.fail:
            raise StoreUnavailableError("persistence did not answer")
        return [stored(i) for i in ids if i in self.known]


async def until() -> None:
    """Let the tasks started so far run as far as they can."""
    for _ in range(10):
        await asyncio.sleep(0)


async def test_a_lone_lookup_goes_at_once_and_later_ones_wait_to_go_together() -> None:
    store = Store(known={"b"})
    lookup = BatchedLookup(store.fetch)
    first = asyncio.create_task(lookup.get("a"))
    await until()
    assert store.requests == [["a"]]  # sent at once: nothing was in flight
    later = [asyncio.create_task(lookup.get(i)) for i in ("b", "c", "b")]
    await until()
    assert store.requests == [["a"]]  # waiting for the request in flight
    store.release.set()
    assert await first is None
    assert [await t for t in later] == [stored("b"), None, stored("b")]
    assert store.requests == [["a"], ["b", "c"]]  # together, each id once


async def test_a_batch_is_at_most_max_batch_ids() -> None:
    store = Store(known=set())
    store.release.set()
    lookup = BatchedLookup(store.fetch, max_batch=2)
    results = await asyncio.gather(*(lookup.get(str(i)) for i in range(5)))
    assert results == [None] * 5
    assert [len(r) for r in store.requests] == [2, 2, 1]


async def test_a_failed_request_fails_its_lookups_and_the_next_one_is_tried() -> None:
    store = Store(known={"b"})
    store.fail = True
    lookup = BatchedLookup(store.fetch)
    first = asyncio.create_task(lookup.get("a"))
    await until()
    store.release.set()
    with pytest.raises(StoreUnavailableError):
        await first
    store.fail = False
    assert await lookup.get("b") == stored("b")


async def test_requests_start_min_interval_apart_and_lookups_meanwhile_go_together() -> None:
    store = Store(known=set())
    store.release.set()
    lookup = BatchedLookup(store.fetch, min_interval=0.05)
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await lookup.get("a") is None  # the first goes at once
    assert store.requests == [["a"]]
    later = [asyncio.create_task(lookup.get(i)) for i in ("b", "c")]
    await until()
    assert store.requests == [["a"]]  # nothing in flight, but too soon after the last
    assert [await t for t in later] == [None, None]
    assert store.requests == [["a"], ["b", "c"]]
    assert loop.time() - started >= 0.05


async def test_without_min_interval_a_lookup_after_an_answer_goes_at_once() -> None:
    store = Store(known=set())
    store.release.set()
    lookup = BatchedLookup(store.fetch)
    assert await lookup.get("a") is None
    later = asyncio.create_task(lookup.get("b"))
    await until()
    assert store.requests == [["a"], ["b"]]
    assert await later is None


async def test_the_ids_of_one_get_many_go_in_one_request_and_come_back_in_order() -> None:
    store = Store(known={"b"})
    store.release.set()
    found = await BatchedLookup(store.fetch).get_many(["a", "b", "c"])
    assert store.requests == [["a", "b", "c"]]
    assert found == [None, stored("b"), None]


async def test_get_many_raises_the_requests_error_when_it_failed() -> None:
    store = Store(known=set())
    store.fail = True
    store.release.set()
    with pytest.raises(StoreUnavailableError):
        await BatchedLookup(store.fetch).get_many(["a", "b"])
