"""Accepting a client's message: validate, sanitise, give it an id, order it into its room.

Exactly once: a message with a ``clientMsgId`` gets an id derived from (room, user,
clientMsgId). A retry within JetStream's duplicate window is a JetStream duplicate (the
sequencer returns the original); a retry after the window is found in PostgreSQL by that id
before anything is published. The one case left: a retry after the window of a message that
persistence has not written yet (persistence more than the window behind), or while persistence
does not answer, is stored again. Chat prefers accepting messages to refusing them when
PostgreSQL is down.

Edits and deletions (a request with a ``kind``) are events of the room too, with ids derived
the same way, so the same exactly-once holds for them. Their target is looked up in PostgreSQL
first (``changes`` decides on it); one persistence has not written yet (it writes milliseconds
after the ack) is looked for again a few times (``target_waits``) before ``not_found``. Without
PostgreSQL they are refused ``unavailable``: who may change a message cannot be known.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Protocol

from switchboard_contracts import (
    BusError,
    ChatMessage,
    ChatSendReply,
    ChatSendRequest,
    ErrorCode,
    InvalidIdError,
    subjects,
    validate_room_id,
)
from switchboard_contracts.chat import ChatSendBatchReply, ChatSendBatchRequest
from switchboard_runtime import PublishUnavailableError
from switchboard_runtime.telemetry.batch_tracing import producer_batch_span
from switchboard_runtime.telemetry.logs import log_failure
from switchboard_runtime.telemetry.metrics import child

from switchboard_chat.changes import change_content, change_event, change_refusal
from switchboard_chat.content import message_id, sanitise
from switchboard_chat.metrics import CHANGES_ACCEPTED, MESSAGES_ACCEPTED, MESSAGES_REJECTED
from switchboard_chat.store_client import StoreUnavailableError

__all__ = ["TARGET_WAITS", "MessageAcceptor", "Sequencer", "target_waits"]


def target_waits(total: float, first: float = 0.05) -> tuple[float, ...]:
    """The pauses before each new look-up of a target not found yet: doubling from ``first``,
    ``total`` seconds in all (the last one shortened)."""
    waits: list[float] = []
    while sum(waits) < total:
        waits.append(min(first * 2 ** len(waits), total - sum(waits)))
    return tuple(waits)


TARGET_WAITS = target_waits(1.5)
"""The default: 0.05, 0.1, 0.2, 0.4, 0.75 s (``CHANGE_TARGET_WAIT_SECONDS``, 1.5)."""

log = logging.getLogger(__name__)

StoredMessages = Callable[[list[str]], Awaitable[list[ChatMessage | None]]]
"""The stored message of each id (None: none stored); ``StoreUnavailableError`` when it cannot
say (``BatchedLookup.get_many``)."""


class Sequencer(Protocol):
    """Orders messages into their rooms (``RoomSequencer``)."""

    async def publish(self, draft: ChatMessage) -> ChatMessage: ...

    async def publish_batch(
        self, drafts: Sequence[ChatMessage], context: Mapping[str, str] | None = None
    ) -> list[ChatMessage | Exception]: ...


class MessageAcceptor:
    def __init__(
        self,
        sequencer: Sequencer,
        stored: StoredMessages,
        *,
        target_waits: Sequence[float] = TARGET_WAITS,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._sequencer = sequencer
        self._stored = stored
        self._target_waits = target_waits
        self._sleep = sleep

    async def accept(self, request: ChatSendRequest) -> ChatSendReply:
        reply = await self._accept(request)
        _count([reply])
        return reply

    async def accept_batch(self, batch: ChatSendBatchRequest) -> ChatSendBatchReply:
        """Each request as ``accept`` would answer it alone, in order: the exactly-once lookups
        of the batch in one request to persistence, its messages published a round per room
        (``RoomSequencer.publish_batch``); one message's failure is its own reply's error."""
        replies: list[ChatSendReply | None] = []
        drafts: list[tuple[int, ChatMessage]] = []
        changes: list[int] = []
        for request in batch.requests:
            if request.kind is not None:  # after the messages, each alone (a look-up first)
                replies.append(None)
                changes.append(len(replies) - 1)
                continue
            draft = _draft(request)
            if isinstance(draft, ChatSendReply):
                replies.append(draft)
            else:
                replies.append(None)
                drafts.append((len(replies) - 1, draft))
        retried = [
            (i, d)
            for i, d in drafts
            if d.client_msg_id is not None and not batch.requests[i].first_attempt
        ]
        earlier = await self._earlier([d.id for _, d in retried]) if retried else []
        for (index, _), found in zip(retried, earlier, strict=True):
            if found is not None:
                replies[index] = ChatSendReply(message=found)
        fresh = [(i, d) for i, d in drafts if replies[i] is None]
        stored: list[ChatMessage | Exception] = []
        if fresh:
            # One span over the batch's publishes, whose context every message carries.
            with producer_batch_span(subjects.chat_room(fresh[0][1].room), len(fresh)) as context:
                stored = await self._sequencer.publish_batch([d for _, d in fresh], context)
        for (index, _), result in zip(fresh, stored, strict=True):
            replies[index] = _stored_reply(result)
        # (gateways send changes alone; a batch from another sender has them answered at once)
        changed = await asyncio.gather(
            *(self._change(batch.requests[index]) for index in changes), return_exceptions=True
        )
        for index, answer in zip(changes, changed, strict=True):
            replies[index] = answer if isinstance(answer, ChatSendReply) else _outcome(answer)
        answered = [reply for reply in replies if reply is not None]
        _count(answered)
        return ChatSendBatchReply(replies=answered)

    async def _accept(self, request: ChatSendRequest) -> ChatSendReply:
        if request.kind is not None:
            return await self._change(request)
        draft = _draft(request)
        if isinstance(draft, ChatSendReply):
            return draft
        if request.client_msg_id is not None and not request.first_attempt:
            [earlier] = await self._earlier([draft.id])
            if earlier is not None:
                return ChatSendReply(message=earlier)
        return ChatSendReply(message=await self._sequencer.publish(draft))

    async def _change(self, request: ChatSendRequest) -> ChatSendReply:
        """An edit or a deletion: refused, answered as its earlier copy, or stored."""
        content = change_content(request)
        if isinstance(content, BusError):
            return ChatSendReply(error=content)
        assert request.target_id is not None  # change_content refused it otherwise
        event_id = message_id(request.room, request.user_id, request.client_msg_id)
        if request.client_msg_id is not None and not request.first_attempt:
            [earlier] = await self._earlier([event_id])
            if earlier is not None:
                return ChatSendReply(message=earlier)
        try:
            target = await self._target(request.target_id)
        except StoreUnavailableError:
            return ChatSendReply(
                error=BusError(
                    code=ErrorCode.UNAVAILABLE,
                    message="the message could not be looked up; retry",
                )
            )
        refusal = change_refusal(request, target)
        if refusal is not None or target is None:
            return ChatSendReply(error=refusal)
        event = change_event(request, target, event_id, content, int(time.time() * 1000))
        return ChatSendReply(message=await self._sequencer.publish(event))

    async def _target(self, target_id: str) -> ChatMessage | None:
        """The stored message ``target_id``, looked for again after each of ``target_waits``
        while not found: persistence writes a message just after its ack."""
        [found] = await self._stored([target_id])
        for wait in self._target_waits:
            if found is not None:
                break
            await self._sleep(wait)
            [found] = await self._stored([target_id])
        return found

    async def _earlier(self, draft_ids: list[str]) -> list[ChatMessage | None]:
        try:
            return await self._stored(draft_ids)
        except StoreUnavailableError:
            log.warning("could not look retried messages up in PostgreSQL; relying on JetStream")
            return [None] * len(draft_ids)


def _draft(request: ChatSendRequest) -> ChatMessage | ChatSendReply:
    """The message to store (``seq`` not yet given), or the refusal."""
    try:
        validate_room_id(request.room)
    except InvalidIdError as err:
        return ChatSendReply(error=BusError(code=ErrorCode.INVALID_ROOM, message=str(err)))
    content = sanitise(request.content)
    if isinstance(content, BusError):
        return ChatSendReply(error=content)
    return ChatMessage(
        id=message_id(request.room, request.user_id, request.client_msg_id),
        room=request.room,
        seq=0,
        sender_id=request.user_id,
        sender_name=request.sender_name,
        client_msg_id=request.client_msg_id,
        content=content,
        timestamp=int(time.time() * 1000),
    )


def _outcome(result: BaseException) -> ChatSendReply:
    """A change's failure in a batch, as its own reply; a cancellation is not one."""
    if isinstance(result, Exception):
        return _stored_reply(result)
    raise result


def _stored_reply(result: ChatMessage | Exception) -> ChatSendReply:
    """The ack of a stored message, or the error ``Bus.serve`` would answer for its failure."""
    if isinstance(result, ChatMessage):
        return ChatSendReply(message=result)
    if isinstance(result, PublishUnavailableError):
        log.warning("storing a message of a batch: %s", result)
        return ChatSendReply(error=result.error)
    log_failure(log, result, "storing a message of a batch failed")
    return ChatSendReply(
        error=BusError(code=ErrorCode.INTERNAL, message="storing the message failed; retry")
    )


def _count(replies: list[ChatSendReply]) -> None:
    """Refusals and changes by kind, one each; stored messages with one ``inc`` for all of
    them (a counter's ``inc`` takes a lock)."""
    accepted = 0
    for reply in replies:
        if reply.error is not None:
            child(MESSAGES_REJECTED, reply.error.code.value).inc()
        elif reply.message is not None and reply.message.kind is not None:
            child(CHANGES_ACCEPTED, reply.message.kind.value).inc()
        else:
            accepted += 1
    if accepted:
        MESSAGES_ACCEPTED.inc(accepted)
