"""A Socket.IO client for tests (python-socketio's): it keeps every event it receives; tests
wait for the one they need."""

import asyncio
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, Self

import socketio

__all__ = ["SocketIoRecorder"]

Where = Callable[[Any], bool]


class SocketIoRecorder:
    def __init__(
        self,
        url: str,
        namespaces: Sequence[str],
        events: Sequence[str],
        transports: Sequence[str] = ("websocket",),
    ) -> None:
        self.url = url
        self._namespaces = list(namespaces)
        self._transports = list(transports)
        self.events: list[tuple[str, str, Any]] = []
        """(namespace, event, data) in arrival order."""
        self._arrived = asyncio.Condition()
        self.client = socketio.AsyncClient(reconnection=False)
        for namespace in namespaces:
            for event in (*events, "connect_error"):  # a refusal says why in connect_error
                self.client.on(event, self._recorder(namespace, event), namespace=namespace)

    def _recorder(self, namespace: str, event: str) -> Callable[[Any], Any]:
        async def record(data: Any = None) -> None:
            async with self._arrived:
                self.events.append((namespace, event, data))
                self._arrived.notify_all()

        return record

    async def __aenter__(self) -> Self:
        await self.client.connect(
            self.url, namespaces=self._namespaces, transports=self._transports, wait_timeout=10
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.client.disconnect()
        await self.client.shutdown()

    async def call(self, event: str, data: Any, namespace: str, timeout: float = 10) -> Any:
        return await self.client.call(event, data, namespace=namespace, timeout=timeout)

    async def emit(self, event: str, data: Any, namespace: str) -> None:
        await self.client.emit(event, data, namespace=namespace)

    def of(self, event: str, namespace: str | None = None) -> list[Any]:
        return [
            data
            for ns, name, data in self.events
            if name == event and (namespace is None or ns == namespace)
        ]

    async def wait_for(
        self,
        event: str,
        where: Where = lambda _: True,
        timeout: float = 10.0,
        count: int = 1,
        namespace: str | None = None,
    ) -> list[Any]:
        """The first ``count`` events named ``event`` matching ``where``, received before or
        within ``timeout``."""

        def found() -> list[Any]:
            return [data for data in self.of(event, namespace) if where(data)]

        async with asyncio.timeout(timeout), self._arrived:
            while len(matching := found()) < count:
                await self._arrived.wait()
            return matching[:count]
