"""The chat service process: accepts messages, owns rooms, the CHAT stream and presence."""

import contextlib
import dataclasses
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from switchboard_contracts import endpoints, streams
from switchboard_runtime import (
    Bus,
    Health,
    PublishRetry,
    ensure_stream,
    service_routes,
    start_reporting,
)
from switchboard_runtime.messaging.stream_pipeline import StreamPipeline

from switchboard_chat.accept import MessageAcceptor, target_waits
from switchboard_chat.lookup_batch import BatchedLookup
from switchboard_chat.presence_service import PresenceService
from switchboard_chat.rooms import RoomService
from switchboard_chat.sequencer import RoomSequencer
from switchboard_chat.settings import ChatSettings
from switchboard_chat.store_client import StoreClient

__all__ = ["create_app"]


def create_app(settings: ChatSettings) -> Starlette:
    health = Health()
    bus = Bus(settings, name="chat")
    health.add_check("nats", lambda: bus.connected)
    store = StoreClient(bus, settings.store_timeout_seconds)
    presence = PresenceService(bus, settings)
    health.add_check("presence", lambda: presence.running)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await bus.connect()
        reporting = await start_reporting(bus, settings, "chat")
        spec = dataclasses.replace(
            streams.CHAT,
            replicas=settings.stream_replicas,
            duplicate_window_seconds=settings.duplicate_window_seconds,
        )
        await ensure_stream(bus.js, spec)
        lookup = BatchedLookup(
            lambda ids: store.messages(ids, settings.message_lookup_timeout_seconds),
            min_interval=settings.message_lookup_interval_seconds,
        )
        pipeline = StreamPipeline(bus.nc)
        acceptor = MessageAcceptor(
            RoomSequencer(bus.js, store.last_seq, PublishRetry.from_settings(settings), pipeline),
            lookup.get_many,
            target_waits=target_waits(settings.change_target_wait_seconds),
        )
        await bus.serve(endpoints.CHAT_SEND, acceptor.accept)
        await bus.serve(endpoints.CHAT_SEND_BATCH, acceptor.accept_batch)
        await _serve_rooms(bus, RoomService(store))
        await presence.start()
        try:
            yield
        finally:
            health.draining = True
            await presence.stop()
            await reporting.stop()
            await pipeline.close()
            await bus.close()

    return Starlette(routes=service_routes(health), lifespan=lifespan)


async def _serve_rooms(bus: Bus, rooms: RoomService) -> None:
    await bus.serve(endpoints.CHAT_ROOM_CREATE, rooms.create)
    await bus.serve(endpoints.CHAT_ROOM_LIST, rooms.list)
    await bus.serve(endpoints.CHAT_ROOM_ACCESS, rooms.access)
