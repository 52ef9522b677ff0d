"""What chat asks of PostgreSQL: rooms (create, get, list) and stored messages by id; and
what gateways ask: a message's versions, read marks and unread counts."""

from switchboard_contracts import BusError, ErrorCode, endpoints
from switchboard_contracts.chat import (
    MessageGetReply,
    MessageGetRequest,
    MessagesGetReply,
    MessagesGetRequest,
    VersionsReply,
    VersionsRequest,
)
from switchboard_contracts.reads import (
    ReadMarkReply,
    ReadMarkRequest,
    ReadStatesReply,
    ReadStatesRequest,
)
from switchboard_contracts.rooms import (
    Room,
    RoomGetRequest,
    RoomListReply,
    RoomListRequest,
    RoomReply,
)
from switchboard_runtime import Bus

from switchboard_persistence.chat_store import ChatStore
from switchboard_persistence.read_store import ReadStore
from switchboard_persistence.room_store import RoomExistsError, RoomStore

__all__ = ["serve_chat_queries"]


async def serve_chat_queries(
    bus: Bus, messages: ChatStore, rooms: RoomStore, reads: ReadStore
) -> None:
    async def create_room(room: Room) -> RoomReply:
        try:
            return RoomReply(room=await rooms.create(room))
        except RoomExistsError as err:
            return RoomReply(error=BusError(code=ErrorCode.CONFLICT, message=str(err)))

    async def get_room(request: RoomGetRequest) -> RoomReply:
        return RoomReply(room=await rooms.get(request.room))

    async def list_rooms(request: RoomListRequest) -> RoomListReply:
        return RoomListReply(rooms=await rooms.visible_to(request.user_id))

    # One message by id: what chat asked before it batched its lookups (still answered for a
    # chat instance of the previous version during a rolling upgrade).
    async def get_message(request: MessageGetRequest) -> MessageGetReply:
        return MessageGetReply(message=await messages.get(request.id))

    async def get_messages(request: MessagesGetRequest) -> MessagesGetReply:
        return MessagesGetReply(messages=await messages.get_many(request.ids))

    async def versions(request: VersionsRequest) -> VersionsReply:
        return await messages.message_versions(request.room, request.message_id)

    async def mark_read(request: ReadMarkRequest) -> ReadMarkReply:
        state = await reads.mark(request.room, request.user_id, request.seq, request.upto)
        return ReadMarkReply(state=state)

    async def read_states(request: ReadStatesRequest) -> ReadStatesReply:
        return ReadStatesReply(
            states=await reads.states(request.user_id, request.rooms, request.heads)
        )

    await bus.serve(endpoints.PERSISTENCE_READ_MARK, mark_read)
    await bus.serve(endpoints.PERSISTENCE_READ_STATES, read_states)
    await bus.serve(endpoints.PERSISTENCE_CHAT_VERSIONS, versions)
    await bus.serve(endpoints.PERSISTENCE_ROOM_CREATE, create_room)
    await bus.serve(endpoints.PERSISTENCE_ROOM_GET, get_room)
    await bus.serve(endpoints.PERSISTENCE_ROOM_LIST, list_rooms)
    await bus.serve(endpoints.PERSISTENCE_MESSAGE_GET, get_message)
    await bus.serve(endpoints.PERSISTENCE_MESSAGES_GET, get_messages)
