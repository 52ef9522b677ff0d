"""The gateway's side of the request/reply endpoints of chat (and persistence's history)."""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from switchboard_contracts import (
    ChatSendReply,
    ChatSendRequest,
    HistoryReply,
    HistoryRequest,
    endpoints,
)
from switchboard_contracts.chat import (
    ChatSendBatchReply,
    ChatSendBatchRequest,
    LastSeqReply,
    LastSeqRequest,
    MessagesGetReply,
    MessagesGetRequest,
    VersionsReply,
    VersionsRequest,
)
from switchboard_contracts.erase import UserEraseReply, UserEraseRequest
from switchboard_contracts.presence import PresenceReply, PresenceRequest
from switchboard_contracts.rooms import (
    RoomAccessReply,
    RoomAccessRequest,
    RoomCreateRequest,
    RoomListReply,
    RoomListRequest,
    RoomReply,
)
from switchboard_runtime import Bus, BusUnavailableError

from switchboard_gateway.chat.send_batches import SendBatcher

__all__ = ["BatchPolicy", "ChatClient"]


@dataclass(frozen=True, slots=True)
class BatchPolicy:
    """How sends are gathered (``SendBatcher``): at most one batch per ``interval`` seconds
    while batches are on their way, and at most ``max_in_flight`` of them at once."""

    interval: float
    max_in_flight: int


class ChatClient:
    """Each method's reply carries ``error`` when the request failed, ``unavailable`` when
    nobody answered in time (``Bus.ask``). Sends go in batches (``send_batches``) unless
    ``batches`` is None: then each is a request of its own (``chat.cmd.send``). Edits and
    deletions always go alone: chat looks their target up first (waiting a little for one not
    stored yet), which must not hold back the acks of the messages of a batch."""

    def __init__(self, bus: Bus, timeout: float, batches: BatchPolicy | None = None) -> None:
        self._bus = bus
        self._timeout = timeout
        self._unbatched: set[asyncio.Task[ChatSendReply]] = set()
        self._batcher = (
            None
            if batches is None
            else SendBatcher(
                self._send_batch, interval=batches.interval, max_in_flight=batches.max_in_flight
            )
        )

    async def send(self, request: ChatSendRequest) -> ChatSendReply:
        if self._batcher is not None and request.kind is None:
            return await self._batcher.send(request)
        return await self._bus.ask(endpoints.CHAT_SEND, request, timeout=self._timeout)

    def submit(self, request: ChatSendRequest, on_reply: Callable[[ChatSendReply], None]) -> None:
        """``send`` without awaiting: ``on_reply`` gets the reply (no task per message when
        sends go in batches)."""
        if self._batcher is not None and request.kind is None:
            self._batcher.submit(request, on_reply)
            return
        task = asyncio.create_task(self.send(request))
        self._unbatched.add(task)
        task.add_done_callback(self._unbatched.discard)
        task.add_done_callback(lambda done: None if done.cancelled() else on_reply(done.result()))

    async def _send_batch(self, batch: ChatSendBatchRequest) -> ChatSendBatchReply:
        """The batch's replies; where no chat instance serves batches yet (an upgrade from a
        version without them, its chat pods not rolled yet), each message alone, as before."""
        try:
            return await self._bus.ask(
                endpoints.CHAT_SEND_BATCH, batch, timeout=self._timeout, raise_unanswered=True
            )
        except BusUnavailableError as err:
            if not err.no_responders:
                return ChatSendBatchReply(error=err.error)
        replies = await asyncio.gather(
            *(
                self._bus.ask(endpoints.CHAT_SEND, request, timeout=self._timeout)
                for request in batch.requests
            )
        )
        return ChatSendBatchReply(replies=list(replies))

    async def history(self, request: HistoryRequest) -> HistoryReply:
        return await self._bus.ask(
            endpoints.PERSISTENCE_CHAT_HISTORY, request, timeout=self._timeout
        )

    async def messages(self, ids: list[str]) -> MessagesGetReply:
        """The stored messages among ``ids``, in their current state (edited, deleted)."""
        return await self._bus.ask(
            endpoints.PERSISTENCE_MESSAGES_GET, MessagesGetRequest(ids=ids), timeout=self._timeout
        )

    async def versions(self, room: str, message_id: str) -> VersionsReply:
        return await self._bus.ask(
            endpoints.PERSISTENCE_CHAT_VERSIONS,
            VersionsRequest(room=room, message_id=message_id),
            timeout=self._timeout,
        )

    async def erase_user(self, user_id: str) -> UserEraseReply:
        """Erase the user's content (persistence; the endpoint's own, longer, timeout)."""
        return await self._bus.ask(
            endpoints.PERSISTENCE_USER_ERASE, UserEraseRequest(user_id=user_id)
        )

    async def last_seq(self, room: str) -> LastSeqReply:
        return await self._bus.ask(
            endpoints.PERSISTENCE_CHAT_LAST_SEQ, LastSeqRequest(room=room), timeout=self._timeout
        )

    async def access(self, room: str, user_id: str) -> RoomAccessReply:
        return await self._bus.ask(
            endpoints.CHAT_ROOM_ACCESS,
            RoomAccessRequest(room=room, user_id=user_id),
            timeout=self._timeout,
        )

    async def create_room(self, request: RoomCreateRequest) -> RoomReply:
        return await self._bus.ask(endpoints.CHAT_ROOM_CREATE, request, timeout=self._timeout)

    async def rooms(self, user_id: str) -> RoomListReply:
        return await self._bus.ask(
            endpoints.CHAT_ROOM_LIST, RoomListRequest(user_id=user_id), timeout=self._timeout
        )

    async def presence(self, room: str, min_revision: int = 0) -> PresenceReply:
        return await self._bus.ask(
            endpoints.CHAT_PRESENCE,
            PresenceRequest(room=room, min_revision=min_revision),
            timeout=self._timeout,
        )
