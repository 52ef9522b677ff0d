"""Gap-free per-room ``seq``: the shared subject sequencer applied to the CHAT stream."""

from collections.abc import Awaitable, Callable

from nats.js import JetStreamContext
from switchboard_contracts import ChatMessage, streams, subjects
from switchboard_runtime.messaging.publish_retry import PublishRetry
from switchboard_runtime.messaging.sequencer import SequencerError, SubjectSequencer

from switchboard_chat.metrics import DUPLICATES, SEQUENCE_CONFLICTS

__all__ = ["RoomSequencer", "SequencerError"]


class RoomSequencer:
    def __init__(
        self,
        js: JetStreamContext,
        stored_last_seq: Callable[[str], Awaitable[int]],
        retry: PublishRetry | None = None,
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
        )

    async def publish(self, draft: ChatMessage) -> ChatMessage:
        """Store ``draft`` (its ``seq`` is ignored) and return it as stored, with its ``seq``."""
        return await self._sequencer.publish(draft.room, draft, draft.id)

    def forget(self, room: str) -> None:
        self._sequencer.forget(room)
