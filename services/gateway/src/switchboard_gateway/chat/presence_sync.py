"""Writing this gateway's presence entries to the shared buckets, and heartbeating.

Each (room, user) with connections here is one entry in bucket PRESENCE; the gateway's
heartbeat key in PRESENCE_GATEWAYS is refreshed every third of that bucket's TTL. When the
gateway dies, the heartbeat expires and chat removes the entries. When the heartbeat turns out
to be gone while the gateway lives (cut off from NATS for longer than the TTL), the gateway
writes all its entries again.

Writes of one key are serialised and always write the key's current state, so a join and a
leave racing each other end as the last one says.
"""

import asyncio
import contextlib
import logging
import re
import secrets
import time
from collections.abc import AsyncIterator

from nats.js.errors import KeyWrongLastSequenceError
from nats.js.kv import KeyValue
from switchboard_contracts import streams
from switchboard_contracts.presence import GatewayHeartbeat, PresenceEntry, presence_key
from switchboard_runtime import Bus, open_bucket

from switchboard_gateway.chat.presence import LocalPresence

__all__ = ["PresenceSync", "gateway_id"]

log = logging.getLogger(__name__)

BUCKET_WAIT_SECONDS = 0.5
STOP_TIMEOUT_SECONDS = 3.0
TOMBSTONE_TTL_SECONDS = 60
"""Removal markers outlive their news this long, then expire (they would pile up otherwise)."""


def gateway_id(instance: str) -> str:
    """A key for this process: the instance name plus a random part, new at every start."""
    name = re.sub(r"[^A-Za-z0-9_-]", "-", instance)[:48] or "gateway"
    return f"{name}-{secrets.token_hex(4)}"


class _KeyLocks:
    """One lock per key, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


class PresenceSync:
    def __init__(self, bus: Bus, local: LocalPresence, instance: str) -> None:
        self._bus = bus
        self._local = local
        self._instance = instance
        self._started_at = int(time.time() * 1000)
        self._entries: KeyValue | None = None
        self._gateways: KeyValue | None = None
        self._heartbeat_revision = 0
        self._written: dict[tuple[str, str], tuple[PresenceEntry, int]] = {}
        self._dirty: set[tuple[str, str]] = set()
        self._locks = _KeyLocks()
        self._task: asyncio.Task[None] | None = None
        self.running = False

    @property
    def gateway(self) -> str:
        return self._local.gateway

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Remove this gateway's entries and heartbeat: a clean exit leaves no trace."""
        self.running = False
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._entries is None or self._gateways is None:
            return
        with contextlib.suppress(Exception):
            async with asyncio.timeout(STOP_TIMEOUT_SECONDS):
                for room, user_id in list(self._written):
                    await self._entries.purge(
                        presence_key(room, user_id, self.gateway), msg_ttl=TOMBSTONE_TTL_SECONDS
                    )
                await self._gateways.purge(self.gateway, msg_ttl=TOMBSTONE_TTL_SECONDS)

    async def sync(self, room: str, user_id: str) -> int | None:
        """Write the entry of (room, user) as it is now; the revision of the entry written.

        None when the entry was deleted or could not be written (it is retried later).
        """
        if not self.running or self._entries is None:
            self._dirty.add((room, user_id))
            return None
        key = presence_key(room, user_id, self.gateway)
        async with self._locks.hold(key):
            desired = self._local.entry(room, user_id)
            written = self._written.get((room, user_id))
            try:
                if desired is None:
                    if written is not None:
                        await self._entries.purge(key, msg_ttl=TOMBSTONE_TTL_SECONDS)
                        del self._written[(room, user_id)]
                    return None
                if written is not None and written[0] == desired:
                    return written[1]
                revision = await self._entries.put(key, desired.encode())
            except Exception:
                log.warning("writing presence of a user in %s failed; retrying later", room)
                self._dirty.add((room, user_id))
                return None
            self._written[(room, user_id)] = (desired, revision)
            return revision

    async def _run(self) -> None:
        self._entries, self._gateways = await self._buckets()
        status = await self._gateways.status()
        ttl = status.ttl or streams.PRESENCE_GATEWAYS.ttl_seconds or 15.0
        interval = ttl / 3
        await self._register()
        self.running = True
        log.info("presence heartbeat every %.1f s (TTL %.1f s) as %s", interval, ttl, self.gateway)
        await self._sync_dirty()
        while True:
            await asyncio.sleep(interval)
            await self._heartbeat()
            await self._sync_dirty()

    async def _buckets(self) -> tuple[KeyValue, KeyValue]:
        announced = False
        while True:
            entries = await open_bucket(self._bus.js, streams.PRESENCE)
            gateways = await open_bucket(self._bus.js, streams.PRESENCE_GATEWAYS)
            if entries is not None and gateways is not None:
                return entries, gateways
            if not announced:
                log.info("waiting for the presence buckets (created by chat)")
                announced = True
            await asyncio.sleep(BUCKET_WAIT_SECONDS)

    def _heartbeat_value(self) -> bytes:
        return GatewayHeartbeat(
            gateway=self.gateway, instance=self._instance, started_at=self._started_at
        ).encode()

    async def _register(self) -> None:
        assert self._gateways is not None
        self._heartbeat_revision = await self._gateways.create(
            self.gateway, self._heartbeat_value()
        )

    async def _heartbeat(self) -> None:
        assert self._gateways is not None
        try:
            self._heartbeat_revision = await self._gateways.update(
                self.gateway, self._heartbeat_value(), last=self._heartbeat_revision
            )
        except KeyWrongLastSequenceError:
            log.warning("this gateway's heartbeat expired; writing its presence again")
            try:
                await self._register()
            except Exception:
                log.exception("re-registering presence failed; retrying")
                return
            self._dirty.update(self._local.keys())
            self._dirty.update(self._written)
            self._written.clear()
        except Exception:
            log.warning("presence heartbeat failed; retrying")

    async def _sync_dirty(self) -> None:
        dirty, self._dirty = self._dirty, set()
        for room, user_id in sorted(dirty):
            await self.sync(room, user_id)
