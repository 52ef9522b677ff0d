"""The JWKS key set: cached, and refreshed on an unknown ``kid`` at most once per interval.

A flood of tokens with made-up key ids therefore costs at most one fetch per interval, and
concurrent look-ups share the fetch in flight.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import jwt

__all__ = ["JwksCache"]

log = logging.getLogger(__name__)

Fetch = Callable[[], Awaitable[dict[str, Any]]]


class JwksCache:
    def __init__(
        self, fetch: Fetch, min_refresh_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._fetch = fetch
        self._min_refresh = min_refresh_seconds
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._last_fetch: float | None = None
        self._lock = asyncio.Lock()
        self.fetches = 0

    async def key(self, kid: str) -> jwt.PyJWK | None:
        if kid in self._keys:
            return self._keys[kid]
        async with self._lock:
            if kid in self._keys:  # fetched while we waited
                return self._keys[kid]
            now = self._clock()
            if self._last_fetch is not None and now - self._last_fetch < self._min_refresh:
                return None
            self._last_fetch = now
            await self._refresh()
        return self._keys.get(kid)

    async def _refresh(self) -> None:
        self.fetches += 1
        try:
            document = await self._fetch()
        except Exception as err:  # keep the keys we have; the next interval tries again
            log.warning("fetching the JWKS failed: %s", err)
            return
        keys: dict[str, jwt.PyJWK] = {}
        for entry in document.get("keys", []):
            if not isinstance(entry, dict) or not isinstance(entry.get("kid"), str):
                continue
            try:
                keys[entry["kid"]] = jwt.PyJWK(entry)
            except jwt.PyJWTError as err:
                log.warning("ignoring JWKS key %s: %s", entry["kid"], err)
        self._keys = keys
