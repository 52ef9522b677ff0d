from collections.abc import Mapping, Sequence

from switchboard_chat.accept import MessageAcceptor, target_waits
from switchboard_chat.content import message_id
from switchboard_chat.store_client import StoreUnavailableError
from switchboard_contracts import ChatMessage, ChatSendRequest, ErrorCode, EventKind
from switchboard_contracts.chat import ChatSendBatchRequest
from switchboard_runtime import PublishUnavailableError


class FakeSequencer:
    def __init__(self, failing_content: str = "") -> None:
        self.published: list[ChatMessage] = []
        self.batches: list[list[ChatMessage]] = []
        self._failing_content = failing_content

    async def publish(self, draft: ChatMessage) -> ChatMessage:
        stored = draft.model_copy(update={"seq": len(self.published) + 1})
        self.published.append(stored)
        return stored

    async def publish_batch(
        self, drafts: Sequence[ChatMessage], context: Mapping[str, str] | None = None
    ) -> list[ChatMessage | Exception]:
        del context
        self.batches.append(list(drafts))
        return [
            PublishUnavailableError("no ack")
            if draft.content == self._failing_content
            else await self.publish(draft)
            for draft in drafts
        ]


def request(client_msg_id: str | None = "c-1", content: str = " hi ") -> ChatSendRequest:
    return ChatSendRequest(room="r", user_id="al", content=content, client_msg_id=client_msg_id)


async def test_a_retry_stored_long_ago_is_answered_from_the_store_without_publishing() -> None:
    earlier = ChatMessage(
        id=message_id("r", "al", "c-1"), room="r", seq=7, sender_id="al", content="hi", timestamp=1
    )
    asked: list[str] = []

    async def stored(found_ids: list[str]) -> list[ChatMessage | None]:
        asked.extend(found_ids)
        return [earlier for _ in found_ids]

    sequencer = FakeSequencer()
    reply = await MessageAcceptor(sequencer, stored).accept(request())
    assert reply.message == earlier
    assert asked == [earlier.id]
    assert sequencer.published == []


async def test_a_new_message_is_published_sanitised_with_its_derived_id() -> None:
    async def nothing(ids: list[str]) -> list[ChatMessage | None]:
        return [None for _ in ids]

    sequencer = FakeSequencer()
    reply = await MessageAcceptor(sequencer, nothing).accept(request())
    assert reply.message is not None
    assert (reply.message.id, reply.message.content, reply.message.seq) == (
        message_id("r", "al", "c-1"),
        "hi",
        1,
    )


async def test_an_unavailable_store_does_not_stop_messages() -> None:
    async def down(_: list[str]) -> list[ChatMessage | None]:
        raise StoreUnavailableError("persistence did not answer")

    sequencer = FakeSequencer()
    reply = await MessageAcceptor(sequencer, down).accept(request())
    assert reply.message is not None
    assert len(sequencer.published) == 1


async def test_messages_without_client_msg_id_are_not_looked_up() -> None:
    async def never(_: list[str]) -> list[ChatMessage | None]:
        raise AssertionError("looked up")

    reply = await MessageAcceptor(FakeSequencer(), never).accept(request(client_msg_id=None))
    assert reply.message is not None


async def test_empty_content_is_refused_before_anything_else() -> None:
    async def never(_: list[str]) -> list[ChatMessage | None]:
        raise AssertionError("looked up")

    reply = await MessageAcceptor(FakeSequencer(), never).accept(request(content="  "))
    assert reply.error is not None
    assert reply.error.code == ErrorCode.INVALID_CONTENT


def batch(*requests: ChatSendRequest) -> ChatSendBatchRequest:
    return ChatSendBatchRequest(requests=list(requests))


async def test_a_batch_is_answered_in_order_with_each_refusal_in_its_own_place() -> None:
    async def nothing(ids: list[str]) -> list[ChatMessage | None]:
        return [None for _ in ids]

    sequencer = FakeSequencer()
    reply = await MessageAcceptor(sequencer, nothing).accept_batch(
        batch(request("c-1", "one"), request("c-2", "   "), request("c-3", "three"))
    )
    assert reply.error is None
    answers = [r.message.content if r.message else r.error and r.error.code for r in reply.replies]
    assert answers == [
        "one",
        ErrorCode.INVALID_CONTENT,
        "three",
    ]
    assert [[d.content for d in b] for b in sequencer.batches] == [["one", "three"]]


async def test_a_batch_looks_its_retries_up_in_one_call_and_publishes_only_the_new_ones() -> None:
    earlier = ChatMessage(
        id=message_id("r", "al", "c-2"), room="r", seq=3, sender_id="al", content="two", timestamp=1
    )
    calls: list[list[str]] = []

    async def stored(ids: list[str]) -> list[ChatMessage | None]:
        calls.append(ids)
        return [earlier if found == earlier.id else None for found in ids]

    sequencer = FakeSequencer()
    reply = await MessageAcceptor(sequencer, stored).accept_batch(
        batch(request("c-1", "one"), request("c-2", "two"), request(None, "three"))
    )
    assert calls == [[message_id("r", "al", "c-1"), earlier.id]]
    assert reply.replies[1].message == earlier
    assert [d.content for d in sequencer.batches[0]] == ["one", "three"]


async def test_a_message_that_could_not_be_stored_fails_alone_with_unavailable() -> None:
    async def nothing(ids: list[str]) -> list[ChatMessage | None]:
        return [None for _ in ids]

    sequencer = FakeSequencer(failing_content="lost")
    reply = await MessageAcceptor(sequencer, nothing).accept_batch(
        batch(request("c-1", "kept"), request("c-2", "lost"))
    )
    assert reply.replies[0].message is not None
    error = reply.replies[1].error
    assert error is not None
    assert error.code == ErrorCode.UNAVAILABLE
    assert "retry with the same id" in error.message


async def test_a_batch_relies_on_jetstream_when_persistence_cannot_say() -> None:
    async def down(_: list[str]) -> list[ChatMessage | None]:
        raise StoreUnavailableError("persistence did not answer")

    sequencer = FakeSequencer()
    reply = await MessageAcceptor(sequencer, down).accept_batch(batch(request("c-1", "one")))
    assert reply.replies[0].message is not None
    assert len(sequencer.published) == 1


async def test_a_first_attempt_is_not_looked_up_alone_or_in_a_batch() -> None:
    async def never(_: list[str]) -> list[ChatMessage | None]:
        raise AssertionError("looked up")

    first = request("c-1", "one").model_copy(update={"first_attempt": True})
    acceptor = MessageAcceptor(FakeSequencer(), never)
    assert (await acceptor.accept(first)).message is not None
    reply = await acceptor.accept_batch(batch(first))
    assert reply.replies[0].message is not None


def change(kind: EventKind, client_msg_id: str | None = "e-1") -> ChatSendRequest:
    return ChatSendRequest(
        room="r",
        user_id="al",
        content="new" if kind is EventKind.EDIT else "",
        client_msg_id=client_msg_id,
        kind=kind,
        target_id="m-1",
    )


TARGET = ChatMessage(id="m-1", room="r", seq=1, sender_id="al", content="hi", timestamp=1)


async def no_sleep(seconds: float) -> None:
    del seconds


async def test_an_edit_waits_for_a_target_persistence_has_not_written_yet() -> None:
    lookups: list[list[str]] = []

    async def stored(ids: list[str]) -> list[ChatMessage | None]:
        lookups.append(ids)
        # the edit's own id (not found), then the target: missing twice, then written
        return [TARGET if len(lookups) >= 4 and i == "m-1" else None for i in ids]

    sequencer = FakeSequencer()
    acceptor = MessageAcceptor(sequencer, stored, sleep=no_sleep)
    reply = await acceptor.accept(change(EventKind.EDIT))
    assert reply.message is not None
    assert (reply.message.kind, reply.message.target_seq) == (EventKind.EDIT, 1)
    assert lookups == [[message_id("r", "al", "e-1")], ["m-1"], ["m-1"], ["m-1"]]


async def test_a_target_never_found_is_not_found_after_the_waits() -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async def nothing(ids: list[str]) -> list[ChatMessage | None]:
        return [None for _ in ids]

    sequencer = FakeSequencer()
    acceptor = MessageAcceptor(sequencer, nothing, target_waits=(0.1, 0.2), sleep=sleep)
    reply = await acceptor.accept(change(EventKind.DELETE))
    assert reply.error is not None
    assert reply.error.code is ErrorCode.NOT_FOUND
    assert waits == [0.1, 0.2]
    assert sequencer.published == []


async def test_a_retried_edit_is_answered_with_the_stored_one() -> None:
    earlier = TARGET.model_copy(
        update={"id": message_id("r", "al", "e-1"), "seq": 2, "kind": EventKind.EDIT}
    )

    async def stored(ids: list[str]) -> list[ChatMessage | None]:
        return [earlier if i == earlier.id else None for i in ids]

    sequencer = FakeSequencer()
    reply = await MessageAcceptor(sequencer, stored, sleep=no_sleep).accept(change(EventKind.EDIT))
    assert reply.message == earlier
    assert sequencer.published == []


async def test_an_edit_without_postgresql_is_unavailable() -> None:
    async def down(ids: list[str]) -> list[ChatMessage | None]:
        raise StoreUnavailableError("persistence did not answer")

    reply = await MessageAcceptor(FakeSequencer(), down, sleep=no_sleep).accept(
        change(EventKind.EDIT, client_msg_id=None)
    )
    assert reply.error is not None
    assert reply.error.code is ErrorCode.UNAVAILABLE


async def test_a_batch_answers_its_changes_in_place_after_its_messages() -> None:
    async def stored(ids: list[str]) -> list[ChatMessage | None]:
        return [TARGET if i == "m-1" else None for i in ids]

    sequencer = FakeSequencer()
    batch = ChatSendBatchRequest(
        requests=[request("c-1", "one"), change(EventKind.DELETE, "d-1"), request("c-2", "two")]
    )
    reply = await MessageAcceptor(sequencer, stored, sleep=no_sleep).accept_batch(batch)
    kinds = [r.message.kind if r.message else None for r in reply.replies]
    assert kinds == [None, EventKind.DELETE, None]
    assert [m.content for m in sequencer.published] == ["one", "two", ""]


def test_the_target_waits_double_and_add_up_to_the_setting() -> None:
    assert target_waits(1.5) == (0.05, 0.1, 0.2, 0.4, 0.75)
    assert target_waits(0.0) == ()
    assert sum(target_waits(3.0)) == 3.0
