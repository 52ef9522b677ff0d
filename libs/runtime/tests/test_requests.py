"""A handler whose JetStream publish was never acked answers ``unavailable`` (retry with the same
id), not ``internal``: the gateway turns it into an error frame the client retries."""

import secrets

import nats
import pytest
from switchboard_contracts import ErrorCode
from switchboard_contracts.chat import ChatSendReply, ChatSendRequest
from switchboard_contracts.endpoints import Endpoint
from switchboard_devstack.stores import Stores
from switchboard_runtime import Bus, PublishUnavailableError

pytestmark = pytest.mark.component


def endpoint(subject: str) -> Endpoint[ChatSendRequest, ChatSendReply]:
    return Endpoint(subject, ChatSendRequest, ChatSendReply, "q")


async def never_acked(request: ChatSendRequest) -> ChatSendReply:
    raise PublishUnavailableError(f"{request.room}: not acked within 4 s")


async def test_a_publish_past_its_deadline_answers_unavailable(stores: Stores) -> None:
    nc = await nats.connect(stores.nats_url)
    subject = f"test.requests.{secrets.token_hex(4)}"
    try:
        await Bus.attach(nc).serve(endpoint(subject), never_acked)
        request = ChatSendRequest(room="r", user_id="u", content="x")
        answer = await nc.request(subject, request.encode(), timeout=5)
    finally:
        await nc.close()
    reply = ChatSendReply.decode(answer.data)
    assert reply.error is not None
    assert reply.error.code == ErrorCode.UNAVAILABLE


async def answered(request: ChatSendRequest) -> ChatSendReply:
    del request
    return ChatSendReply()


async def test_a_reply_does_not_carry_the_request_s_headers_back(stores: Stores) -> None:
    nc = await nats.connect(stores.nats_url)
    subject = f"test.requests.{secrets.token_hex(4)}"
    try:
        await Bus.attach(nc).serve(endpoint(subject), answered)
        request = ChatSendRequest(room="r", user_id="u", content="x")
        traceparent = "00-0123456789abcdef0123456789abcdef-0123456789abcdef-00"
        answer = await nc.request(
            subject, request.encode(), timeout=5, headers={"traceparent": traceparent}
        )
    finally:
        await nc.close()
    assert ChatSendReply.decode(answer.data).error is None
    assert not answer.headers
