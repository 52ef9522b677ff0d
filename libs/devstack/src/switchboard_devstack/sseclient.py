"""An SSE client for tests: it keeps every event (parsed by ``httpx-sse``); tests wait for the
ones they need. One connection, no automatic reconnect: tests reconnect on purpose, passing
``last_event_id`` as a browser would in ``Last-Event-ID``."""

import asyncio
import contextlib
import json
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

import httpx
from httpx_sse import EventSource, ServerSentEvent

__all__ = ["EventClient", "ServerSentEvent"]


class EventClient:
    def __init__(
        self,
        url: str,
        last_event_id: str | int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.url = url
        self.events: list[ServerSentEvent] = []
        self._headers = {"Accept": "text/event-stream", **(headers or {})}
        if last_event_id is not None:
            self._headers["Last-Event-ID"] = str(last_event_id)
        self._http = httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=None))
        self._stream: contextlib.AbstractAsyncContextManager[httpx.Response] | None = None
        self.response: httpx.Response | None = None
        self._reader: asyncio.Task[None] | None = None
        self._arrived = asyncio.Condition()
        self.closed = asyncio.Event()

    async def __aenter__(self) -> Self:
        self._stream = self._http.stream("GET", self.url, headers=self._headers)
        self.response = await self._stream.__aenter__()
        if self.response.status_code != 200:
            body = (await self.response.aread()).decode(errors="replace")
            await self.__aexit__(None, None, None)
            raise ConnectionError(f"the stream answered {self.response.status_code}: {body}")
        self._reader = asyncio.create_task(self._read(EventSource(self.response)))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self._stream is not None:
            with contextlib.suppress(Exception):
                await self._stream.__aexit__(exc_type, exc, tb)
        await self._http.aclose()

    async def _read(self, source: EventSource) -> None:
        try:
            async for event in source.aiter_sse():
                async with self._arrived:
                    self.events.append(event)
                    self._arrived.notify_all()
        except (httpx.HTTPError, OSError):
            pass  # the server went away: that is what tests observe
        finally:
            self.closed.set()
            async with self._arrived:
                self._arrived.notify_all()

    @property
    def last_event_id(self) -> str | None:
        """What a browser would send as ``Last-Event-ID`` on its next connect."""
        ids = [e.id for e in self.events if e.id]
        return ids[-1] if ids else None

    def of_type(self, event: str) -> list[ServerSentEvent]:
        return [e for e in self.events if e.event == event]

    def data_of(self, event: str) -> list[Any]:
        return [json.loads(e.data) for e in self.of_type(event)]

    async def wait_for(
        self,
        event: str,
        where: Callable[[Any], bool] = lambda _: True,
        timeout: float = 10.0,
    ) -> Any:
        """The data (JSON) of the first ``event`` matching ``where``."""
        await self.wait_until(lambda: any(where(d) for d in self.data_of(event)), timeout)
        return next(d for d in self.data_of(event) if where(d))

    async def wait_count(self, event: str, count: int, timeout: float = 10.0) -> list[Any]:
        """The data of the first ``count`` events of type ``event``."""
        await self.wait_until(lambda: len(self.of_type(event)) >= count, timeout)
        return self.data_of(event)[:count]

    async def wait_until(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout), self._arrived:
            while not condition():
                if self.closed.is_set():
                    raise ConnectionError(
                        f"the stream closed first; got {[(e.event, e.data) for e in self.events]}"
                    )
                await self._arrived.wait()
