"""Gap-free positions per key (a room's ``seq``, a user's inbox ``cursor``) on top of JetStream.

Each key has its own subject in a stream. Every publish says which stream sequence it expects to
be the subject's last (``Nats-Expected-Last-Subject-Sequence``); a concurrent writer (another
instance) makes that fail, and we re-read the subject's last message and try again, so positions
are strictly increasing and gap-free with any number of writers. ``Nats-Msg-Id`` makes a retried
message a duplicate that JetStream answers with the original's stream sequence, from which we
read the original back. A key with nothing left in the stream (new, or aged out) continues from
``stored_last``, which asks whoever keeps older entries (persistence).
"""

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from nats.js import JetStreamContext
from nats.js.api import RawStreamMsg
from nats.js.errors import APIError, NotFoundError
from switchboard_contracts import BusMessage

from switchboard_runtime.errors import ServiceError
from switchboard_runtime.messaging.publish_retry import PublishRetry, publish_until_acked
from switchboard_runtime.messaging.stream_pipeline import AckBatch, StreamAck, StreamPipeline
from switchboard_runtime.telemetry.metrics import (
    BUS_MESSAGES_PUBLISHED,
    child,
    service_name,
    subject_template,
)

__all__ = ["Entry", "SequencerError", "SubjectSequencer", "last_message"]

log = logging.getLogger(__name__)

WRONG_LAST_SEQUENCE = 10071
MAX_ATTEMPTS = 20
DEFAULT_MAX_CACHED_HEADS = 100_000

M = TypeVar("M", bound=BusMessage)


class SequencerError(ServiceError):
    """The entry could not be ordered; the caller may retry with the same message id."""


@dataclass(frozen=True)
class _Head:
    position: int
    stream_seq: int


@dataclass(frozen=True)
class Entry(Generic[M]):
    """One message for ``SubjectSequencer.publish_many``: its key, draft and message id."""

    key: str
    draft: M
    msg_id: str


@dataclass
class _InFlight(Generic[M]):
    index: int
    entry: Entry[M]
    head: _Head
    message: M
    ack: "asyncio.Future[StreamAck]"


async def last_message(js: JetStreamContext, stream: str, subject: str) -> RawStreamMsg | None:
    """The newest message on ``subject`` still in ``stream``, or None."""
    try:
        # Answered by the stream's leader: a replica's direct get may lag behind an ack.
        last = await js.get_last_msg(stream, subject)
    except NotFoundError:
        return None
    if last.data is None or last.seq is None:
        raise SequencerError(f"{subject}: the stream returned an empty last message")
    return last


class SubjectSequencer(Generic[M]):
    """Publishes ``M`` messages whose integer field ``field`` is their position under a key."""

    def __init__(
        self,
        js: JetStreamContext,
        stream: str,
        model: type[M],
        *,
        field: str,
        subject_of: Callable[[str], str],
        stored_last: Callable[[str], Awaitable[int]],
        max_cached_heads: int = DEFAULT_MAX_CACHED_HEADS,
        on_conflict: Callable[[], None] = lambda: None,
        on_duplicate: Callable[[], None] = lambda: None,
        retry: PublishRetry | None = None,
        pipeline: StreamPipeline | None = None,
        stored_last_many: Callable[[list[str]], Awaitable[dict[str, int]]] | None = None,
    ) -> None:
        """``on_conflict``: another writer got there first (we retry); ``on_duplicate``: a retried
        message id was answered with the stored original. Both for the caller's metrics.
        ``retry``: how long a publish nobody answers is sent again (``PublishRetry``); after
        that ``publish`` raises ``PublishUnavailableError``. ``pipeline``: what ``publish_many``
        sends its first attempts through; without one, it publishes every entry one by one.
        ``stored_last_many``: ``stored_last`` for many keys at once (keys with nothing stored
        left out); with it and a pipeline, ``publish_many`` reads the heads it has not cached
        in two requests instead of one or two per key."""
        self._js = js
        self._stream = stream
        self._model = model
        self._field = field
        self._subject_of = subject_of
        self._stored_last = stored_last
        self._max_cached = max_cached_heads
        self._on_conflict = on_conflict
        self._on_duplicate = on_duplicate
        self._retry = retry or PublishRetry()
        self._pipeline = pipeline
        self._stored_last_many = stored_last_many
        self._heads: OrderedDict[str, _Head] = OrderedDict()
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}  # a lock per key, and its users

    async def publish(
        self, key: str, draft: M, msg_id: str, *, context: Mapping[str, str] | None = None
    ) -> M:
        """Store ``draft`` (its position field is ignored) and return it as stored.

        ``context``: trace headers the caller injected once for a batch of entries (a
        broadcast's page) inside its own span; then no span is opened per entry."""
        lock, waiting = self._locks.get(key) or (asyncio.Lock(), 0)
        self._locks[key] = (lock, waiting + 1)
        try:
            async with lock:
                return await self._publish(key, draft, msg_id, context)
        finally:
            lock, waiting = self._locks[key]
            if waiting == 1:
                del self._locks[key]  # nobody else holds or waits for it
            else:
                self._locks[key] = (lock, waiting - 1)

    async def publish_many(
        self,
        entries: Sequence[Entry[M]],
        *,
        concurrency: int,
        context: Mapping[str, str] | None = None,
    ) -> list[M]:
        """Store entries under distinct keys (one each) and return them as stored, in order.

        Pipelined: every entry whose key's head is cached, and which no ``publish`` holds, is
        sent at once through the ``pipeline`` without waiting for the others' acks (one attempt
        each, for up to the retry's attempt timeout).
        Whatever did not come back as a plain ack (no cached head, another writer first, a
        duplicate, silence, an error) then goes through ``publish`` with the same message id,
        ``concurrency`` at a time: each entry ends exactly as if published alone.
        ``context``: as for ``publish``, the trace headers of the caller's span over the batch."""
        if len({entry.key for entry in entries}) != len(entries):
            raise ValueError("publish_many takes at most one entry per key")
        await self._prime(
            [e.key for e in entries if e.key not in self._heads and e.key not in self._locks]
        )
        stored: list[M | None] = [None] * len(entries)
        in_flight: list[_InFlight[M]] = []
        rest: list[int] = []
        answers = AckBatch()
        for index, entry in enumerate(entries):
            head = self._heads.get(entry.key)
            if self._pipeline is None or head is None or entry.key in self._locks:
                rest.append(index)
                continue
            message = entry.draft.model_copy(update={self._field: head.position + 1})
            try:
                ack = await self._pipeline.publish(
                    self._subject_of(entry.key),
                    message.encode(),
                    stream=self._stream,
                    headers={
                        **(context or {}),
                        "Nats-Msg-Id": entry.msg_id,
                        "Nats-Expected-Last-Subject-Sequence": str(head.stream_seq),
                    },
                    batch=answers,
                )
            except Exception:  # reconnecting, the buffer full: the slow path retries
                rest.append(index)
                continue
            in_flight.append(_InFlight(index, entry, head, message, ack))
        await answers.wait(self._retry.attempt_timeout_seconds)
        if self._pipeline is not None:
            self._pipeline.forget([sent.ack for sent in in_flight if not sent.ack.done()])
        acked = 0
        for sent in in_flight:
            if self._plainly_acked(sent):
                self._remember(sent.entry.key, _Head(sent.head.position + 1, sent.ack.result().seq))
                stored[sent.index] = sent.message
                acked += 1
            else:
                rest.append(sent.index)
        if acked:
            subject = subject_template(self._subject_of(entries[0].key))
            child(BUS_MESSAGES_PUBLISHED, service_name(), subject).inc(acked)
        await self._publish_each(entries, sorted(rest), stored, concurrency, context)
        return [message for message in stored if message is not None]

    async def _prime(self, keys: list[str]) -> None:
        """Cache the heads of ``keys``: one read of the stream for all of them, one of the older
        store for those the stream holds nothing of. Best effort: a key left out is read by
        ``publish`` as before, and a stale head (a replica behind its leader) is answered
        "wrong last sequence" and read again."""
        if not keys or self._pipeline is None or self._stored_last_many is None:
            return
        subjects = {self._subject_of(key): key for key in keys}
        try:
            found = await self._pipeline.last_messages(
                self._stream, list(subjects), timeout=self._retry.attempt_timeout_seconds
            )
            missing = [key for subject, key in subjects.items() if subject not in found]
            stored = await self._stored_last_many(missing) if missing else {}
        except Exception as err:
            log.warning(
                "reading %d heads at once failed (%r); reading them one by one", len(keys), err
            )
            return
        for subject, message in found.items():
            key = subjects.get(subject)
            try:
                position = getattr(self._model.decode(message.data), self._field)
            except ValueError:  # undecodable: left to publish's own read, which says so
                continue
            if key is not None:
                self._remember(key, _Head(int(position), message.seq))
        for key in missing:
            self._remember(key, _Head(stored.get(key, 0), 0))

    def _plainly_acked(self, sent: _InFlight[M]) -> bool:
        """Acked as stored now; anything else (a conflict, a duplicate, no answer) is retried."""
        if sent.ack.cancelled():  # no answer in time (forgotten)
            return False
        error = sent.ack.exception()
        if isinstance(error, APIError) and error.err_code == WRONG_LAST_SEQUENCE:
            self._on_conflict()
            self._heads.pop(sent.entry.key, None)
        return error is None and not sent.ack.result().duplicate

    async def _publish_each(
        self,
        entries: Sequence[Entry[M]],
        indexes: list[int],
        stored: list[M | None],
        concurrency: int,
        context: Mapping[str, str] | None,
    ) -> None:
        """``publish`` the entries at ``indexes``, ``concurrency`` at a time; the first failure
        cancels the rest and is raised."""

        async def some(pending: Iterator[int]) -> None:
            for index in pending:
                entry = entries[index]
                stored[index] = await self.publish(
                    entry.key, entry.draft, entry.msg_id, context=context
                )

        pending = iter(indexes)
        async with asyncio.TaskGroup() as group:
            for _ in range(min(concurrency, len(indexes))):
                group.create_task(some(pending))

    async def head(self, key: str) -> int:
        """The position of the newest entry under ``key`` (0 when there is none)."""
        return (await self._read_head(key)).position

    def forget(self, key: str) -> None:
        self._heads.pop(key, None)

    async def _publish(
        self, key: str, draft: M, msg_id: str, context: Mapping[str, str] | None
    ) -> M:
        subject = self._subject_of(key)
        for _ in range(MAX_ATTEMPTS):
            head = self._heads.get(key) or await self._read_head(key)
            message = draft.model_copy(update={self._field: head.position + 1})
            try:
                # Retried with the same id and expected sequence: an attempt that landed is
                # answered "duplicate" (JetStream checks the id first), never stored twice.
                ack = await publish_until_acked(
                    self._js,
                    subject,
                    message.encode(),
                    stream=self._stream,
                    headers={
                        **(context or {}),
                        "Nats-Msg-Id": msg_id,
                        "Nats-Expected-Last-Subject-Sequence": str(head.stream_seq),
                    },
                    retry=self._retry,
                    traced=context is None,
                )
            except APIError as err:
                if err.err_code != WRONG_LAST_SEQUENCE:
                    raise
                self._on_conflict()
                self._heads.pop(key, None)
                continue
            if ack.duplicate:
                self._on_duplicate()
                self._heads.pop(key, None)
                return await self._stored(ack.seq, subject, msg_id)
            self._remember(key, _Head(head.position + 1, ack.seq))
            return message
        raise SequencerError(f"{subject} is too contended to order a message")

    def _remember(self, key: str, head: _Head) -> None:
        self._heads[key] = head
        self._heads.move_to_end(key)
        while len(self._heads) > self._max_cached:
            self._heads.popitem(last=False)

    async def _read_head(self, key: str) -> _Head:
        last = await last_message(self._js, self._stream, self._subject_of(key))
        if last is None:
            return _Head(await self._stored_last(key), 0)
        assert last.data is not None
        assert last.seq is not None
        position = getattr(self._model.decode(last.data), self._field)
        return _Head(int(position), last.seq)

    async def _stored(self, stream_seq: int, subject: str, msg_id: str) -> M:
        raw = await self._js.get_msg(self._stream, stream_seq)
        if raw.data is None:
            raise SequencerError(f"stream message {stream_seq} has no data")
        if raw.subject != subject:
            # Message ids deduplicate stream-wide: this one was used under another key.
            raise SequencerError(f"message id {msg_id!r} is already used on {raw.subject}")
        return self._model.decode(raw.data)
