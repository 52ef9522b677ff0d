"""The chat service process: serves ``chat.cmd.send`` and owns the CHAT stream."""

import contextlib
import dataclasses
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from switchboard_contracts import BusError, ChatSendReply, ChatSendRequest, streams, subjects
from switchboard_contracts.chat import LastSeqReply, LastSeqRequest
from switchboard_runtime import (
    Bus,
    Health,
    ensure_stream,
    serve_requests,
    service_routes,
    start_reporting,
)

from switchboard_chat.accept import MessageAcceptor
from switchboard_chat.sequencer import RoomSequencer, SequencerError
from switchboard_chat.settings import ChatSettings

__all__ = ["create_app"]

LAST_SEQ_TIMEOUT_SECONDS = 5.0


def create_app(settings: ChatSettings) -> Starlette:
    health = Health()
    bus = Bus(settings, name="chat")
    health.add_check("nats", lambda: bus.connected)

    async def stored_last_seq(room: str) -> int:
        reply = LastSeqReply.decode(
            (
                await bus.nc.request(
                    subjects.CHAT_LAST_SEQ,
                    LastSeqRequest(room=room).encode(),
                    timeout=LAST_SEQ_TIMEOUT_SECONDS,
                )
            ).data
        )
        if reply.error is not None:
            raise SequencerError(reply.error.message)
        return reply.seq

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await bus.connect()
        reporting = await start_reporting(bus, settings, "chat")
        spec = dataclasses.replace(streams.CHAT, replicas=settings.stream_replicas)
        await ensure_stream(bus.js, spec)
        acceptor = MessageAcceptor(RoomSequencer(bus.js, stored_last_seq))
        await serve_requests(
            bus.nc,
            subjects.CHAT_SEND,
            subjects.QUEUE_CHAT,
            ChatSendRequest,
            acceptor.accept,
            on_error=error_reply,
        )
        try:
            yield
        finally:
            health.draining = True
            await reporting.stop()
            await bus.close()

    return Starlette(routes=service_routes(health), lifespan=lifespan)


def error_reply(error: BusError) -> ChatSendReply:
    return ChatSendReply(error=error)
