import asyncio
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from switchboard_gateway.edge.jwks import JwksCache

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
JWK: dict[str, Any] = {
    **jwt.algorithms.RSAAlgorithm.to_jwk(KEY.public_key(), as_dict=True),
    "kid": "k1",
}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def cache_with(documents: list[dict[str, Any]], clock: Clock) -> JwksCache:
    async def fetch() -> dict[str, Any]:
        await asyncio.sleep(0)
        return documents[0]

    return JwksCache(fetch, min_refresh_seconds=30, clock=clock)


async def test_a_known_kid_is_served_from_one_fetch() -> None:
    cache = cache_with([{"keys": [JWK]}], Clock())
    assert await cache.key("k1") is not None
    assert await cache.key("k1") is not None
    assert cache.fetches == 1


async def test_a_flood_of_unknown_kids_fetches_at_most_once_per_interval() -> None:
    clock = Clock()
    cache = cache_with([{"keys": [JWK]}], clock)
    results = await asyncio.gather(*(cache.key(f"bogus-{i}") for i in range(500)))
    assert results == [None] * 500
    assert cache.fetches == 1
    clock.now += 29
    assert await cache.key("bogus-x") is None
    assert cache.fetches == 1
    clock.now += 2
    assert await cache.key("bogus-y") is None
    assert cache.fetches == 2


async def test_a_rotated_key_is_found_after_the_interval() -> None:
    clock = Clock()
    documents: list[dict[str, Any]] = [{"keys": []}]
    cache = cache_with(documents, clock)
    assert await cache.key("k1") is None
    documents[0] = {"keys": [JWK]}
    clock.now += 31
    assert await cache.key("k1") is not None


async def test_a_failing_fetch_keeps_the_keys_already_known() -> None:
    clock = Clock()
    calls = 0

    async def fetch() -> dict[str, Any]:
        nonlocal calls
        calls += 1
        if calls > 1:
            raise OSError("unreachable")
        return {"keys": [JWK]}

    cache = JwksCache(fetch, min_refresh_seconds=30, clock=clock)
    assert await cache.key("k1") is not None
    clock.now += 31
    assert await cache.key("other") is None
    assert await cache.key("k1") is not None
