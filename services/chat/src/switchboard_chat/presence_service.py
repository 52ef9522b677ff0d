"""Presence across gateways: watches the buckets gateways write, publishes coalesced snapshots.

Every chat instance watches both buckets and holds the whole state, so any instance answers
``chat.cmd.presence``. Each publishes a room's snapshot when it changes (at most once per
coalescing interval); gateways keep only snapshots newer than the one they have, so several
chat instances cost bandwidth, not duplicate frames.

A gateway's heartbeat key expires when the gateway stops refreshing it (killed, cut off): the
bucket's delete marker tells every chat instance, and they delete the gateway's entries (each
deletion conditional on the revision seen, so racing instances and a gateway that came back
do no harm). No other gateway is involved.

After a reconnect to NATS both buckets are read anew and followed from there: a restarted
server may have lost the watches' consumers, which nats-py replaces only after two missed
heartbeats (~10 s after the server is back, measured ~17 s), while presence stood still and
every join waited ``CATCH_UP_WAIT_SECONDS`` for a revision that did not come. Entries gone
from the bucket meanwhile (their delete markers expired too) are dropped.
"""

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from nats.js.errors import APIError, KeyNotFoundError
from nats.js.kv import KV_DEL, KV_PURGE, KeyValue
from pydantic import ValidationError
from switchboard_contracts import endpoints, streams, subjects
from switchboard_contracts.presence import PresenceEntry, PresenceReply, PresenceRequest
from switchboard_runtime import Bus, ensure_bucket

from switchboard_chat.coalesce import Coalescer
from switchboard_chat.presence_state import PresenceState
from switchboard_chat.settings import ChatSettings

__all__ = ["PresenceService"]

log = logging.getLogger(__name__)

WRONG_LAST_SEQUENCE = 10071
CATCH_UP_WAIT_SECONDS = 1.0
REWATCH_RETRY_SECONDS = (0.1, 2.0)
"""First and longest wait between attempts to watch the buckets again after a reconnect."""
WATCH_STOP_SECONDS = 1.0
HOUSEKEEPING_SECONDS = 60.0
TOMBSTONE_AGE_SECONDS = 600
"""Delete markers this old are purged from the bucket (gateways' own expire by themselves)."""

Apply = Callable[[KeyValue.Entry], None]


class PresenceService:
    def __init__(self, bus: Bus, settings: ChatSettings) -> None:
        self._bus = bus
        self._settings = settings
        self._state = PresenceState(settings.presence_max_listed)
        self._coalescer = Coalescer(settings.presence_coalesce_seconds)
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._entries: KeyValue | None = None
        self._gateways: KeyValue | None = None
        self._watchers: list[KeyValue.KeyWatcher] = []
        self._followers: list[asyncio.Task[None]] = []
        self._rewatching = asyncio.Lock()
        self._alive: set[str] = set()
        self.running = False

    async def start(self) -> None:
        js = self._bus.js
        replicas = self._settings.stream_replicas
        self._entries = await ensure_bucket(
            js, dataclasses.replace(streams.PRESENCE, replicas=replicas)
        )
        self._gateways = await ensure_bucket(
            js,
            dataclasses.replace(
                streams.PRESENCE_GATEWAYS,
                ttl_seconds=self._settings.presence_ttl_seconds,
                replicas=replicas,
            ),
        )
        await self._watch(publish=False)
        self._spawn(self._housekeeping())
        await self._bus.serve(endpoints.CHAT_PRESENCE, self.snapshot)
        self._bus.on_reconnected.append(self._on_reconnected)
        self.running = True

    async def stop(self) -> None:
        self.running = False
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def snapshot(self, request: PresenceRequest) -> PresenceReply:
        if request.min_revision > self._state.revision:
            caught_up = asyncio.get_running_loop().create_future()
            self._waiters.append((request.min_revision, caught_up))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(caught_up, CATCH_UP_WAIT_SECONDS)
        return PresenceReply(snapshot=self._state.snapshot(request.room))

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _watch(self, *, publish: bool) -> None:
        """Read both buckets as they are now into the state, then follow their changes."""
        assert self._entries is not None
        assert self._gateways is not None
        watchers: list[KeyValue.KeyWatcher] = []
        present: set[str] = set()
        try:
            watchers.append(await self._gateways.watchall())
            self._alive.clear()
            async for heartbeat in watchers[0]:
                if heartbeat is None:
                    break
                self._on_heartbeat(heartbeat)
            watchers.append(await self._entries.watchall())
            async for entry in watchers[1]:
                if entry is None:
                    break
                present.add(entry.key)
                self._on_entry(entry, publish=publish)
        except BaseException:
            await self._stop_watching(watchers)
            raise
        for key in self._state.keys() - present:  # gone while nobody watched
            room = self._state.delete(key, self._state.revision)
            if room is not None and publish:
                self._changed(room)
        self._watchers = watchers
        self._followers = [
            self._spawn(self._follow(watchers[0], self._on_heartbeat)),
            self._spawn(self._follow(watchers[1], lambda e: self._on_entry(e, publish=True))),
        ]
        self._spawn(self._purge_orphans(self._gateways))

    def _on_reconnected(self) -> None:
        if self.running:
            self._spawn(self._rewatch())

    async def _rewatch(self) -> None:
        """Watch both buckets anew after a reconnect, trying until NATS answers."""
        async with self._rewatching:
            for task in self._followers:
                task.cancel()
            await self._stop_watching(self._watchers)
            self._watchers, self._followers = [], []
            delay, longest = REWATCH_RETRY_SECONDS
            while self.running:
                try:
                    await self._watch(publish=True)
                except Exception as err:
                    log.warning("watching presence again failed (%s); retrying", err)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, longest)
                else:
                    log.info("presence watched again after a reconnect")
                    return

    @staticmethod
    async def _stop_watching(watchers: list[KeyValue.KeyWatcher]) -> None:
        for watcher in watchers:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(WATCH_STOP_SECONDS):
                    await watcher.stop()  # type: ignore[no-untyped-call]

    async def _follow(self, watcher: KeyValue.KeyWatcher, apply: Apply) -> None:
        async for entry in watcher:
            if entry is not None:
                apply(entry)

    def _on_heartbeat(self, entry: KeyValue.Entry) -> None:
        gateway = entry.key
        if entry.operation in (KV_DEL, KV_PURGE):
            if gateway in self._alive:
                log.info("gateway %s stopped heartbeating; removing its presence", gateway)
            self._alive.discard(gateway)
            if self._entries is not None and self.running:
                self._spawn(self._purge(gateway))
        else:
            self._alive.add(gateway)

    def _on_entry(self, entry: KeyValue.Entry, *, publish: bool) -> None:
        revision = entry.revision or 0
        if entry.operation in (KV_DEL, KV_PURGE):
            room = self._state.delete(entry.key, revision)
        else:
            try:
                value = PresenceEntry.decode(entry.value or b"")
            except ValidationError:
                log.warning("ignoring an undecodable presence entry %s", entry.key)
                return
            room = self._state.put(entry.key, value, revision)
        self._wake_waiters()
        if room is not None and publish:
            self._changed(room)

    def _wake_waiters(self) -> None:
        if not self._waiters:
            return
        waiting = []
        for revision, future in self._waiters:
            if revision <= self._state.revision:
                if not future.done():
                    future.set_result(None)
            elif not future.done():
                waiting.append((revision, future))
        self._waiters = waiting

    def _changed(self, room: str) -> None:
        loop = asyncio.get_running_loop()
        delay = self._coalescer.change(room, loop.time())
        if delay == 0.0:
            self._spawn(self._publish(room))
        elif delay is not None:
            loop.call_later(delay, self._publish_due, room)

    def _publish_due(self, room: str) -> None:
        self._coalescer.due(room, asyncio.get_running_loop().time())
        self._spawn(self._publish(room))

    async def _publish(self, room: str) -> None:
        snapshot = self._state.snapshot(room)
        try:
            await self._bus.publish(subjects.chat_presence(room), snapshot.encode())
        except Exception:
            log.exception("publishing the presence of %s failed", room)
        if snapshot.count == 0:
            self._state.forget_empty(room)

    async def _purge_orphans(self, gateways: KeyValue) -> None:
        """Entries whose gateway has no heartbeat (it died while no chat instance ran)."""
        for gateway in self._state.gateways() - self._alive:
            try:
                await gateways.get(gateway)
            except KeyNotFoundError:
                await self._purge(gateway)

    async def _housekeeping(self) -> None:
        loop = asyncio.get_running_loop()
        purged_at = loop.time()
        while True:
            await asyncio.sleep(HOUSEKEEPING_SECONDS)
            self._coalescer.prune(loop.time())
            if self._entries is not None and loop.time() - purged_at >= TOMBSTONE_AGE_SECONDS:
                purged_at = loop.time()
                try:
                    await self._entries.purge_deletes(olderthan=TOMBSTONE_AGE_SECONDS)
                except Exception:
                    log.warning("purging old presence delete markers failed; retrying later")

    async def _purge(self, gateway: str) -> None:
        assert self._entries is not None
        for key, revision in self._state.keys_of(gateway):
            try:
                await self._entries.delete(key, last=revision)
            except APIError as err:
                if err.err_code != WRONG_LAST_SEQUENCE:
                    log.warning("could not delete presence entry %s: %s", key, err)
