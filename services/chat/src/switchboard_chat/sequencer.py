"""Gap-free per-room ``seq``: the shared subject sequencer applied to the CHAT stream.

A batch of drafts (``publish_batch``) goes in rounds: the first draft of every room in the batch
is published at once, pipelined (``SubjectSequencer.publish_many``: no publish waits for
another room's ack), then the second draft of every room that has one, and so on, so a room's
drafts keep their order. What publishing a round cannot do pipelined (a room's head not cached,
another chat instance first, a duplicate) it does one by one, exactly as a single ``publish``.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from nats.js import JetStreamContext
from switchboard_contracts import ChatMessage, streams, subjects
from switchboard_runtime.messaging.publish_retry import PublishRetry
from switchboard_runtime.messaging.sequencer import Entry, SequencerError, SubjectSequencer
from switchboard_runtime.messaging.stream_pipeline import StreamPipeline

from switchboard_chat.metrics import DUPLICATES, SEQUENCE_CONFLICTS

log = logging.getLogger(__name__)

__all__ = ["ROUND_CONCURRENCY", "RoomSequencer", "SequencerError", "rounds"]

ROUND_CONCURRENCY = 32
"""Slow-path publishes of one round (heads not cached, conflicts) in flight at once."""


def rounds(drafts: Sequence[ChatMessage]) -> list[list[int]]:
    """The indexes of ``drafts`` in rounds: round ``r`` holds each room's ``r``-th draft, in
    the order the rooms first appear. Pure; a room's drafts keep their order across rounds."""
    by_room: dict[str, list[int]] = {}
    for index, draft in enumerate(drafts):
        by_room.setdefault(draft.room, []).append(index)
    depth = max((len(indexes) for indexes in by_room.values()), default=0)
    return [[indexes[r] for indexes in by_room.values() if len(indexes) > r] for r in range(depth)]


@dataclass(slots=True)
class _Waiting:
    """A batch waiting to be published, and the future its caller awaits."""

    drafts: Sequence[ChatMessage]
    answer: "asyncio.Future[list[ChatMessage | Exception]]"
    context: Mapping[str, str] | None


class RoomSequencer:
    def __init__(
        self,
        js: JetStreamContext,
        stored_last_seq: Callable[[str], Awaitable[int]],
        retry: PublishRetry | None = None,
        pipeline: StreamPipeline | None = None,
    ) -> None:
        self._sequencer = SubjectSequencer(
            js,
            streams.CHAT.name,
            ChatMessage,
            field="seq",
            subject_of=subjects.chat_room,
            stored_last=stored_last_seq,
            on_conflict=SEQUENCE_CONFLICTS.inc,
            on_duplicate=DUPLICATES.inc,
            retry=retry,
            pipeline=pipeline,
        )
        self._waiting: list[_Waiting] = []
        self._publishing: asyncio.Task[None] | None = None

    async def publish(self, draft: ChatMessage) -> ChatMessage:
        """Store ``draft`` (its ``seq`` is ignored) and return it as stored, with its ``seq``."""
        return await self._sequencer.publish(draft.room, draft, draft.id)

    async def publish_batch(
        self, drafts: Sequence[ChatMessage], context: Mapping[str, str] | None = None
    ) -> list[ChatMessage | Exception]:
        """Store every draft; for each, in the drafts' order, the stored message or why it was
        not stored. A draft after a failed one of the same room is not tried (it fails with
        the same error), so that a room's messages are never stored out of their order.

        Batches asked for while another is being published wait and go together, so one
        instance never has two rounds racing for the same room's head (they would only
        conflict). ``context``: the trace headers the publishes carry (the batch's span; the
        first batch's when several went together)."""
        if not drafts:
            return []
        answer: asyncio.Future[list[ChatMessage | Exception]]
        answer = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(drafts, answer, context))
        if self._publishing is None:
            self._publishing = asyncio.create_task(self._publish_waiting())
        return await answer

    async def _publish_waiting(self) -> None:
        taken: list[_Waiting] = []
        try:
            while self._waiting:
                taken, self._waiting = self._waiting, []
                # Published together, they carry the first batch's trace context: with none,
                # persistence would start a trace (a sampling decision, a span) for each.
                context = next((w.context for w in taken if w.context is not None), None)
                drafts = [draft for waiting in taken for draft in waiting.drafts]
                try:
                    results = await self._publish_rounds(drafts, context)
                except Exception as err:  # not one message's failure: all of them fail with it
                    results = [err] * len(drafts)
                start = 0
                for waiting in taken:  # each batch its own slice, one answer per batch
                    end = start + len(waiting.drafts)
                    if not waiting.answer.done():
                        waiting.answer.set_result(results[start:end])
                    start = end
        finally:
            self._publishing = None
            for waiting in [*taken, *self._waiting]:  # stopped: nobody answers them now
                waiting.answer.cancel()
            self._waiting = []

    async def _publish_rounds(
        self, drafts: Sequence[ChatMessage], context: Mapping[str, str] | None
    ) -> list[ChatMessage | Exception]:
        outcome: list[ChatMessage | Exception | None] = [None] * len(drafts)
        failed_rooms: dict[str, Exception] = {}
        for indexes in rounds(drafts):
            todo = []
            for index in indexes:
                failure = failed_rooms.get(drafts[index].room)
                if failure is None:
                    todo.append(index)
                else:
                    outcome[index] = failure
            for index, result in zip(todo, await self._round(drafts, todo, context), strict=True):
                outcome[index] = result
                if isinstance(result, Exception):
                    failed_rooms[drafts[index].room] = result
        return [result for result in outcome if result is not None]

    async def _round(
        self, drafts: Sequence[ChatMessage], todo: list[int], context: Mapping[str, str] | None
    ) -> list[ChatMessage | Exception]:
        entries = [Entry(drafts[i].room, drafts[i], drafts[i].id) for i in todo]
        try:
            stored = await self._sequencer.publish_many(
                entries, concurrency=ROUND_CONCURRENCY, context=context
            )
        except Exception as err:  # each entry is tried alone below and keeps its own error
            log.info("a round of %d publishes failed (%r); publishing each alone", len(todo), err)
        else:
            if len(stored) == len(entries):
                return list(stored)
        # Each alone (a round's rooms are distinct, so all at once): an entry the failed round
        # stored already is answered as a duplicate of itself (same id), never stored twice.
        results = await asyncio.gather(
            *(self._sequencer.publish(e.key, e.draft, e.msg_id) for e in entries),
            return_exceptions=True,
        )
        return [_outcome(result) for result in results]

    def forget(self, room: str) -> None:
        self._sequencer.forget(room)


def _outcome(result: ChatMessage | BaseException) -> ChatMessage | Exception:
    """A message's result as ``publish_batch`` answers it."""
    if isinstance(result, ChatMessage | Exception):
        return result
    raise result  # a cancellation, or the process stopping: not one message's failure
