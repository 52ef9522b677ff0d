"""The gateway's send batches, with a fake chat that holds each batch until the test answers."""

import asyncio

from switchboard_contracts import BusError, ChatMessage, ChatSendReply, ChatSendRequest, ErrorCode
from switchboard_contracts.chat import ChatSendBatchReply, ChatSendBatchRequest
from switchboard_devstack.polling import until
from switchboard_gateway.chat.send_batches import SendBatcher, encoded_size_bound


def request(n: int, content: str = "hi") -> ChatSendRequest:
    return ChatSendRequest(room="r", user_id="al", content=content, client_msg_id=f"c-{n}")


def acked(req: ChatSendRequest) -> ChatSendReply:
    message = ChatMessage(
        id=req.client_msg_id or "", room=req.room, seq=1, sender_id=req.user_id,
        content=req.content, timestamp=1,
    )  # fmt: skip
    return ChatSendReply(message=message)


class Chat:
    """Answers each batch when the test says, with an ack per request unless told otherwise."""

    def __init__(self) -> None:
        self.batches: list[list[ChatSendRequest]] = []
        self._answers: list[asyncio.Future[ChatSendBatchReply | None]] = []

    async def ask(self, batch: ChatSendBatchRequest) -> ChatSendBatchReply:
        self.batches.append(batch.requests)
        answer: asyncio.Future[ChatSendBatchReply | None] = asyncio.Future()
        self._answers.append(answer)
        given = await answer
        return given or ChatSendBatchReply(replies=[acked(r) for r in batch.requests])

    def answer(self, index: int, reply: ChatSendBatchReply | None = None) -> None:
        self._answers[index].set_result(reply)

    def sizes(self) -> list[int]:
        return [len(batch) for batch in self.batches]


async def settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


def sends(batcher: SendBatcher, ns: range) -> list[asyncio.Task[ChatSendReply]]:
    return [asyncio.create_task(batcher.send(request(n))) for n in ns]


async def test_a_lone_send_on_an_idle_gateway_leaves_at_once() -> None:
    chat = Chat()
    batcher = SendBatcher(chat.ask, interval=10.0, max_in_flight=1)
    [task] = sends(batcher, range(1))
    await settle()
    assert chat.sizes() == [1]
    chat.answer(0)
    reply = await asyncio.wait_for(task, 1)
    assert reply.message is not None
    assert reply.message.id == "c-0"


async def test_the_sends_of_one_loop_turn_leave_together() -> None:
    chat = Chat()
    batcher = SendBatcher(chat.ask, interval=0.0, max_in_flight=1)
    tasks = sends(batcher, range(5))
    await settle()
    assert chat.sizes() == [5]
    chat.answer(0)
    replies = await asyncio.wait_for(asyncio.gather(*tasks), 1)
    assert [r.message.id for r in replies if r.message] == [f"c-{n}" for n in range(5)]


async def test_sends_wait_while_the_batches_allowed_are_out_then_go_together() -> None:
    chat = Chat()
    batcher = SendBatcher(chat.ask, interval=0.0, max_in_flight=1)
    first = sends(batcher, range(1))
    await settle()
    later = sends(batcher, range(1, 4))
    await settle()
    assert chat.sizes() == [1]
    assert batcher.waiting == 3
    chat.answer(0)
    await settle()
    assert chat.sizes() == [1, 3]
    chat.answer(1)
    await asyncio.wait_for(asyncio.gather(*first, *later), 1)


async def test_while_a_batch_is_out_the_next_waits_for_the_interval() -> None:
    chat = Chat()
    batcher = SendBatcher(chat.ask, interval=0.05, max_in_flight=4)
    sends(batcher, range(1))
    await settle()
    sends(batcher, range(1, 3))
    await settle()
    assert chat.sizes() == [1]  # a slot is free, but the interval has not passed
    started = asyncio.get_running_loop().time()

    async def second_left() -> bool:
        return chat.sizes() == [1, 2]

    await until(second_left, "the second batch", timeout=1, interval=0.005)
    assert asyncio.get_running_loop().time() - started >= 0.04


async def test_a_batch_error_answers_every_send_in_it() -> None:
    chat = Chat()
    batcher = SendBatcher(chat.ask, interval=0.0, max_in_flight=1)
    tasks = sends(batcher, range(3))
    await settle()
    error = BusError(code=ErrorCode.UNAVAILABLE, message="chat.cmd.send-batch did not answer")
    chat.answer(0, ChatSendBatchReply(error=error))
    replies = await asyncio.wait_for(asyncio.gather(*tasks), 1)
    assert [r.error for r in replies] == [error] * 3


async def test_an_answer_missing_replies_is_an_internal_error_for_each_send() -> None:
    chat = Chat()
    batcher = SendBatcher(chat.ask, interval=0.0, max_in_flight=1)
    tasks = sends(batcher, range(2))
    await settle()
    chat.answer(0, ChatSendBatchReply(replies=[acked(request(0))]))
    replies = await asyncio.wait_for(asyncio.gather(*tasks), 1)
    assert [r.error.code for r in replies if r.error] == [ErrorCode.INTERNAL] * 2


async def test_a_failing_ask_answers_its_sends_and_the_next_batch_still_goes() -> None:
    calls = 0

    async def ask(batch: ChatSendBatchRequest) -> ChatSendBatchReply:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("boom")
        return ChatSendBatchReply(replies=[acked(r) for r in batch.requests])

    batcher = SendBatcher(ask, interval=0.0, max_in_flight=1)
    failed = await asyncio.wait_for(batcher.send(request(0)), 1)
    assert failed.error is not None
    assert failed.error.code == ErrorCode.INTERNAL
    ok = await asyncio.wait_for(batcher.send(request(1)), 1)
    assert ok.message is not None


async def test_a_batch_holds_at_most_max_requests_and_the_rest_follow() -> None:
    chat = Chat()
    batcher = SendBatcher(chat.ask, interval=0.0, max_in_flight=2, max_requests=3)
    tasks = sends(batcher, range(7))
    await settle()
    assert chat.sizes() == [3, 3]  # two in flight; the seventh waits for a slot
    chat.answer(0)
    await settle()
    assert chat.sizes() == [3, 3, 1]
    chat.answer(1)
    chat.answer(2)
    assert len(await asyncio.wait_for(asyncio.gather(*tasks), 1)) == 7


async def test_a_batch_stays_under_its_byte_bound() -> None:
    chat = Chat()
    big = request(0, content="x" * 5000)
    limit = 2 * encoded_size_bound(big) + 10
    batcher = SendBatcher(chat.ask, interval=0.0, max_in_flight=8, max_bytes=limit)
    tasks = [asyncio.create_task(batcher.send(request(n, "x" * 5000))) for n in range(5)]
    await settle()
    assert chat.sizes() == [2, 2, 1]
    for index in range(3):
        chat.answer(index)
    await asyncio.wait_for(asyncio.gather(*tasks), 1)


def test_the_size_bound_covers_the_worst_escaped_encoding() -> None:
    hostile = ChatSendRequest(
        room="r" * 64, user_id="u" * 64, content="\x1f" * 5000, client_msg_id="c" * 64,
        sender_name="\x01" * 100,
    )  # fmt: skip
    assert len(hostile.encode()) <= encoded_size_bound(hostile)


async def test_submitted_sends_get_their_replies_by_callback_and_one_failing_stops_none() -> None:
    chat = Chat()
    batcher = SendBatcher(chat.ask, interval=0.0, max_in_flight=1)
    got: list[str] = []

    def failing(_: ChatSendReply) -> None:
        raise RuntimeError("the session is gone")

    batcher.submit(request(0), failing)
    batcher.submit(request(1), lambda reply: got.append(reply.message.id if reply.message else ""))
    await settle()
    chat.answer(0)
    await settle()
    assert got == ["c-1"]
