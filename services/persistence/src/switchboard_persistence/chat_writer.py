"""Drains the CHAT stream into PostgreSQL with a durable consumer, acking only after commit."""

from nats.js import JetStreamContext
from switchboard_contracts import ChatMessage, streams

from switchboard_persistence.chat_store import ChatStore
from switchboard_persistence.stream_writer import StreamWriter

__all__ = ["ChatWriter"]


class ChatWriter(StreamWriter[ChatMessage]):
    def __init__(self, js: JetStreamContext, store: ChatStore, batch_size: int) -> None:
        super().__init__(
            js,
            streams.PERSISTENCE_CHAT_CONSUMER,
            ChatMessage,
            store.insert,
            batch_size,
            table="chat_messages",
        )
