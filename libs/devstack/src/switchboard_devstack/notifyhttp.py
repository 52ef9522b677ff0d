"""The notification HTTP API as tests call it: one method per endpoint, answers as JSON."""

from types import TracebackType
from typing import Any, Self

import httpx

__all__ = ["NotifyHttp", "stream_url"]


def stream_url(base_url: str, user: str, **params: str) -> str:
    """The URL of ``user``'s notification stream (SSE) at the gateway ``base_url``, with more
    query ``params`` (``team``, ``lastEventId``)."""
    query = "&".join(f"{k}={v}" for k, v in {"userId": user, **params}.items())
    return f"{base_url}/api/notifications/stream?{query}"


class NotifyHttp:
    def __init__(self, base_url: str) -> None:
        self._http = httpx.AsyncClient(base_url=base_url, timeout=40.0)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._http.aclose()

    @property
    def http(self) -> httpx.AsyncClient:
        return self._http

    async def _json(self, response: httpx.Response) -> Any:
        if response.status_code != 200:
            raise AssertionError(
                f"{response.request.url} answered {response.status_code}: {response.text}"
            )
        return response.json()

    async def send(
        self, user_id: str, title: str, message: str = "body", kind: str = "info"
    ) -> dict[str, Any]:
        body = {"userId": user_id, "type": kind, "title": title, "message": message}
        result: dict[str, Any] = await self._json(
            await self._http.post("/api/notifications/send", json=body)
        )
        return result

    async def broadcast(
        self, title: str, team: str | None = None, message: str = "body", kind: str = "info"
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"type": kind, "title": title, "message": message}
        if team is not None:
            body["team"] = team
        result: dict[str, Any] = await self._json(
            await self._http.post("/api/notifications/broadcast", json=body)
        )
        return result

    async def inbox(self, user_id: str, **params: str | int | bool) -> dict[str, Any]:
        query = {k: str(v).lower() if isinstance(v, bool) else v for k, v in params.items()}
        result: dict[str, Any] = await self._json(
            await self._http.get("/api/notifications", params={"userId": user_id, **query})
        )
        return result

    async def read(self, user_id: str, notification_id: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._json(
            await self._http.post(
                f"/api/notifications/{notification_id}/read", params={"userId": user_id}
            )
        )
        return result

    async def read_all(self, user_id: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._json(
            await self._http.post("/api/notifications/read-all", params={"userId": user_id})
        )
        return result

    async def poll(
        self, user_id: str, cursor: int | None = None, timeout: float | None = None
    ) -> dict[str, Any]:
        params: dict[str, str | int | float] = {"userId": user_id}
        if cursor is not None:
            params["cursor"] = cursor
        if timeout is not None:
            params["timeout"] = timeout
        result: dict[str, Any] = await self._json(
            await self._http.get("/api/notifications/poll", params=params)
        )
        return result
