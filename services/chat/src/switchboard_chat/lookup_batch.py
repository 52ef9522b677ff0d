"""Looking stored messages up by id in batches: one request to persistence for many messages.

Every message with a ``clientMsgId`` is looked up before it is stored (a retry after JetStream's
duplicate window). One request per message cost chat, persistence and PostgreSQL a round trip
each per message; here a lookup asked for while one request is in flight waits for it to return
and goes with the others in the next request. An idle service sends at once, so a lone message
waits no longer than before; a busy one sends fewer, bigger requests. A failed request fails
every lookup in it, with the request's error.

``min_interval`` also spaces the requests' starts: a lookup asked for within that time after the
previous request went waits for the rest of it. A request costs chat, persistence, NATS and
PostgreSQL far more than an id in it (at 2,000 messages/s ~130 µs of CPU per message when the
answers came back fast enough to carry one or two ids each): without the spacing, the less
loaded the machine, the more requests per message. A service that has not asked for
``min_interval`` still sends at once.
"""

import asyncio
import math
from collections.abc import Awaitable, Callable

from switchboard_contracts import ChatMessage
from switchboard_contracts.chat import MAX_MESSAGES_GET

__all__ = ["BatchedLookup"]

Fetch = Callable[[list[str]], Awaitable[list[ChatMessage]]]


class BatchedLookup:
    def __init__(
        self, fetch: Fetch, max_batch: int = MAX_MESSAGES_GET, min_interval: float = 0.0
    ) -> None:
        """``fetch``: the stored messages among the given ids (it raises when it cannot say);
        ``min_interval``: seconds from the start of one request to the start of the next."""
        self._fetch = fetch
        self._max_batch = max_batch
        self._min_interval = min_interval
        self._last_sent = -math.inf
        self._waiting: dict[str, list[asyncio.Future[ChatMessage | None]]] = {}
        self._sending: asyncio.Task[None] | None = None

    async def get(self, message_id: str) -> ChatMessage | None:
        """The stored message with this id, or None when there is none."""
        [found] = await self.get_many([message_id])
        return found

    async def get_many(self, message_ids: list[str]) -> list[ChatMessage | None]:
        """The stored message of each id (None where there is none), looked up together."""
        loop = asyncio.get_running_loop()
        answers: list[asyncio.Future[ChatMessage | None]] = []
        for message_id in message_ids:
            answer: asyncio.Future[ChatMessage | None] = loop.create_future()
            self._waiting.setdefault(message_id, []).append(answer)
            answers.append(answer)
        if self._sending is None:
            self._sending = asyncio.create_task(self._send())
        found = await asyncio.gather(*answers, return_exceptions=True)
        for result in found:
            if isinstance(result, BaseException):
                raise result  # every failed one failed with its request's error
        return [result for result in found if not isinstance(result, BaseException)]

    async def _send(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._waiting:
                pause = self._last_sent + self._min_interval - loop.time()
                if pause > 0:
                    await asyncio.sleep(pause)  # lookups asked for meanwhile go along
                self._last_sent = loop.time()
                ids = list(self._waiting)[: self._max_batch]
                batch = {message_id: self._waiting.pop(message_id) for message_id in ids}
                try:
                    found = {m.id: m for m in await self._fetch(ids)}
                except Exception as err:  # every lookup of the request fails with it
                    for answers in batch.values():
                        for answer in answers:
                            if not answer.done():
                                answer.set_exception(err)
                    continue
                for message_id, answers in batch.items():
                    for answer in answers:
                        if not answer.done():
                            answer.set_result(found.get(message_id))
        finally:
            self._sending = None
