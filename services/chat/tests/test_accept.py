from switchboard_chat.accept import MessageAcceptor
from switchboard_chat.content import message_id
from switchboard_chat.store_client import StoreUnavailableError
from switchboard_contracts import ChatMessage, ChatSendRequest, ErrorCode


class FakeSequencer:
    def __init__(self) -> None:
        self.published: list[ChatMessage] = []

    async def publish(self, draft: ChatMessage) -> ChatMessage:
        stored = draft.model_copy(update={"seq": len(self.published) + 1})
        self.published.append(stored)
        return stored


def request(client_msg_id: str | None = "c-1", content: str = " hi ") -> ChatSendRequest:
    return ChatSendRequest(room="r", user_id="al", content=content, client_msg_id=client_msg_id)


async def test_a_retry_stored_long_ago_is_answered_from_the_store_without_publishing() -> None:
    earlier = ChatMessage(
        id=message_id("r", "al", "c-1"), room="r", seq=7, sender_id="al", content="hi", timestamp=1
    )
    asked: list[str] = []

    async def stored(found_id: str) -> ChatMessage | None:
        asked.append(found_id)
        return earlier

    sequencer = FakeSequencer()
    reply = await MessageAcceptor(sequencer, stored).accept(request())
    assert reply.message == earlier
    assert asked == [earlier.id]
    assert sequencer.published == []


async def test_a_new_message_is_published_sanitised_with_its_derived_id() -> None:
    async def nothing(_: str) -> ChatMessage | None:
        return None

    sequencer = FakeSequencer()
    reply = await MessageAcceptor(sequencer, nothing).accept(request())
    assert reply.message is not None
    assert (reply.message.id, reply.message.content, reply.message.seq) == (
        message_id("r", "al", "c-1"),
        "hi",
        1,
    )


async def test_an_unavailable_store_does_not_stop_messages() -> None:
    async def down(_: str) -> ChatMessage | None:
        raise StoreUnavailableError("persistence did not answer")

    sequencer = FakeSequencer()
    reply = await MessageAcceptor(sequencer, down).accept(request())
    assert reply.message is not None
    assert len(sequencer.published) == 1


async def test_messages_without_client_msg_id_are_not_looked_up() -> None:
    async def never(_: str) -> ChatMessage | None:
        raise AssertionError("looked up")

    reply = await MessageAcceptor(FakeSequencer(), never).accept(request(client_msg_id=None))
    assert reply.message is not None


async def test_empty_content_is_refused_before_anything_else() -> None:
    async def never(_: str) -> ChatMessage | None:
        raise AssertionError("looked up")

    reply = await MessageAcceptor(FakeSequencer(), never).accept(request(content="  "))
    assert reply.error is not None
    assert reply.error.code == ErrorCode.INVALID_CONTENT
