"""Drains the CHAT stream into PostgreSQL with a durable consumer, acking only after commit."""

from nats.aio.client import Client
from switchboard_contracts import ChatMessage, streams
from switchboard_runtime.messaging.dead_letters import DeadLetters

from switchboard_persistence.chat_store import ChatStore
from switchboard_persistence.stream_writer import RETRY_DELAY_SECONDS, StreamWriter

__all__ = ["ChatWriter"]


class ChatWriter(StreamWriter[ChatMessage]):
    def __init__(
        self,
        nc: Client,
        store: ChatStore,
        batch_size: int,
        concurrency: int = 1,
        linger: float = 0.0,
        *,
        max_attempts: int = 3,
        retry_delay: float = RETRY_DELAY_SECONDS,
        dead_letters: DeadLetters | None = None,
    ) -> None:
        super().__init__(
            nc,
            streams.PERSISTENCE_CHAT_CONSUMER,
            ChatMessage,
            store.insert,
            batch_size,
            table="chat_messages",
            concurrency=concurrency,
            linger=linger,
            max_attempts=max_attempts,
            retry_delay=retry_delay,
            dead_letters=dead_letters,
        )
