"""The persistence service process: migrations, the chat writer, history and last-seq queries."""

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator

import asyncpg
from starlette.applications import Starlette
from switchboard_contracts import HistoryReply, HistoryRequest, endpoints, streams
from switchboard_contracts.chat import LastSeqReply, LastSeqRequest
from switchboard_contracts.notify import Notification, at_position
from switchboard_runtime import (
    Bus,
    Health,
    PublishRetry,
    ensure_stream,
    service_routes,
    start_reporting,
)
from switchboard_runtime.messaging.dead_letters import DeadLetters, serve_replays

from switchboard_persistence.chat_queries import serve_chat_queries
from switchboard_persistence.chat_store import ChatStore
from switchboard_persistence.chat_writer import ChatWriter
from switchboard_persistence.erase_store import EraseStore
from switchboard_persistence.migrate import migrate
from switchboard_persistence.notify_requests import NotifyRequests
from switchboard_persistence.notify_store import NotifyStore
from switchboard_persistence.read_store import ReadStore
from switchboard_persistence.room_store import RoomStore
from switchboard_persistence.settings import PersistenceSettings
from switchboard_persistence.stream_writer import StreamWriter
from switchboard_persistence.user_erase import UserEraser

__all__ = ["create_app"]


def create_app(settings: PersistenceSettings) -> Starlette:
    health = Health()
    bus = Bus(settings, name="persistence")
    health.add_check("nats", lambda: bus.connected)
    pool_state: dict[str, asyncpg.Pool] = {}
    health.add_check("postgres", lambda: "pool" in pool_state)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        pool = await asyncpg.create_pool(
            settings.database_url,
            min_size=1,
            max_size=settings.database_pool_size,
            reset=keep_session,
        )
        if settings.migrate_on_start:
            async with pool.acquire() as conn:
                await migrate(conn)
        await bus.connect()
        reporting = await start_reporting(bus, settings, "persistence")
        # Persistence owns DEAD_LETTERS; notification creates it too if it needs it first.
        await ensure_stream(
            bus.js, dataclasses.replace(streams.DEAD_LETTERS, replicas=settings.stream_replicas)
        )
        dead_letters = DeadLetters(bus.js, PublishRetry.from_settings(settings))
        store = ChatStore(pool)

        async def history(request: HistoryRequest) -> HistoryReply:
            messages, has_more = await store.page(request.room, request.before, request.limit)
            return HistoryReply(messages=messages, has_more=has_more)

        async def last_seq(request: LastSeqRequest) -> LastSeqReply:
            return LastSeqReply(seq=await store.last_seq(request.room))

        await bus.serve(endpoints.PERSISTENCE_CHAT_HISTORY, history)
        await bus.serve(endpoints.PERSISTENCE_CHAT_LAST_SEQ, last_seq)
        await serve_chat_queries(bus, store, RoomStore(pool), ReadStore(pool))
        await UserEraser(bus, EraseStore(pool)).serve()
        chat_writer = ChatWriter(
            bus.nc,
            store,
            settings.write_batch_size,
            settings.write_concurrency,
            settings.chat_write_linger_seconds,
            max_attempts=settings.dead_letter_attempts,
            dead_letters=dead_letters,
        )
        writer = asyncio.create_task(chat_writer.run())
        health.add_check("chat-writer", lambda: chat_writer.consuming and not writer.done())
        notify_store = NotifyStore(pool)
        await NotifyRequests(bus, notify_store).serve()
        notify_writer = StreamWriter(
            bus.nc,
            streams.PERSISTENCE_NOTIFY_CONSUMER,
            Notification,
            notify_store.insert,
            settings.write_batch_size,
            table="notifications",
            concurrency=settings.write_concurrency,
            linger=settings.write_linger_seconds,
            max_attempts=settings.dead_letter_attempts,
            dead_letters=dead_letters,
            at_sequence=at_position,
        )
        for stream, owner in ((streams.CHAT, chat_writer), (streams.NOTIFY, notify_writer)):
            await serve_replays(bus, dead_letters, stream.name, owner.process_again)
        notifier = asyncio.create_task(notify_writer.run())
        health.add_check("notify-writer", lambda: notify_writer.consuming and not notifier.done())
        pool_state["pool"] = pool
        try:
            yield
        finally:
            health.draining = True
            await reporting.stop()
            chat_writer.stop()
            notify_writer.stop()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(
                    asyncio.gather(writer, notifier), timeout=settings.shutdown_timeout_seconds
                )
            await bus.close()
            await store.close()
            await pool.close()

    return Starlette(routes=service_routes(health), lifespan=lifespan)


async def keep_session(conn: asyncpg.Connection) -> None:
    """Instead of asyncpg's reset query on every release (a round trip to PostgreSQL per query
    made through the pool): persistence keeps no session state (no LISTEN, SET, cursors or held
    advisory locks: migrations release theirs). asyncpg still rolls back an open transaction."""
    del conn
