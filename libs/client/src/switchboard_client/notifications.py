"""A notification stream that outlives its connections: SSE resumed with ``Last-Event-ID`` (the
last cursor seen), reconnected with backoff and jitter, each cursor shown once."""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from types import TracebackType
from typing import Self
from urllib.parse import urlencode

from switchboard_client.backoff import Backoff
from switchboard_client.errors import ConnectFailedError
from switchboard_client.events import (
    Notification,
    NotificationEvent,
    StreamReady,
    StreamReset,
    Unread,
)
from switchboard_client.transport import RawEvent, SseOpener, open_sse

__all__ = ["NotificationStream"]


class NotificationStream:
    """``GET /api/notifications/stream`` for one user, resumed across reconnects.

    ``base_url`` is the gateway's ``http://host:port`` or a callable giving it per connect.
    """

    def __init__(
        self,
        base_url: str | Callable[[], str],
        user_id: str | None = None,
        *,
        token: str | None = None,
        teams: Iterable[str] = (),
        last_event_id: int | None = None,
        opener: SseOpener = open_sse,
        backoff: Backoff | None = None,
        restart_jitter_seconds: float = 1.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._base = base_url if callable(base_url) else (lambda: base_url)
        self.user_id = user_id
        self._token = token
        self._teams = list(teams)
        self.cursor = last_event_id
        """The last cursor seen: sent as ``Last-Event-ID`` on the next connect."""
        self._opener = opener
        self.backoff = backoff or Backoff()
        self._restart_jitter = restart_jitter_seconds
        self._sleep = sleep
        self.notifications: list[Notification] = []
        """Every notification shown, once each, in cursor order."""
        self.resets: list[StreamReset] = []
        self.duplicates_dropped = 0
        self.connects = 0
        self.failed: BaseException | None = None
        self._events: asyncio.Queue[NotificationEvent] = asyncio.Queue()
        self._arrived = asyncio.Condition()
        self._runner: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def start(self) -> None:
        if self._runner is None:
            self._runner = asyncio.create_task(self._run())

    async def close(self) -> None:
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner

    async def events(self) -> AsyncIterator[NotificationEvent]:
        while True:
            yield await self._events.get()

    async def wait_until(self, condition: Callable[[], bool], timeout: float = 30.0) -> None:
        async with asyncio.timeout(timeout), self._arrived:
            while not condition():
                await self._arrived.wait()

    def url(self) -> str:
        query: list[tuple[str, str]] = []
        if self.user_id is not None:
            query.append(("userId", self.user_id))
        if self._token is not None:
            query.append(("token", self._token))
        query.extend(("team", team) for team in self._teams)
        base = self._base().rstrip("/")
        suffix = f"?{urlencode(query)}" if query else ""
        return f"{base}/api/notifications/stream{suffix}"

    async def _run(self) -> None:
        while True:
            headers = {} if self.cursor is None else {"Last-Event-ID": str(self.cursor)}
            try:
                self.connects += 1
                async for raw in self._opener(self.url(), headers):
                    self.backoff.reset()
                    await self._handle(raw)
            except ConnectFailedError as failed:
                status = failed.status
                if status is not None and 400 <= status < 500 and status != 429:
                    self.failed = failed
                    return
                await self._sleep(self.backoff.next_delay())
                continue
            # The server ended the stream (it is draining): come back soon, not all at once.
            await self._sleep(self.backoff.jitter(self._restart_jitter))

    async def _handle(self, raw: RawEvent) -> None:
        try:
            data = json.loads(raw.data) if raw.data else {}
        except ValueError:
            return
        event: NotificationEvent
        if raw.event == "notification":
            event = Notification.from_json(data)
            if self.cursor is not None and event.cursor <= self.cursor:
                self.duplicates_dropped += 1
                return
            self.cursor = event.cursor
            self.notifications.append(event)
        elif raw.event == "ready":
            event = StreamReady(int(data["cursor"]))
            if self.cursor is None:
                self.cursor = event.cursor
        elif raw.event == "reset":
            event = StreamReset(int(data["cursor"]), str(data.get("reason", "")))
            self.cursor = event.cursor
            self.resets.append(event)
        elif raw.event == "unread":
            event = Unread(int(data["unreadCount"]))
        else:
            return
        async with self._arrived:
            self._arrived.notify_all()
        await self._events.put(event)
