"""``Bus.ask`` and ``Bus.serve``: one typed request/reply contract, its failures as the endpoint's
error reply (or ``BusUnavailableError`` for a caller that must tell), traced and counted."""

import secrets
from unittest import mock

import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
from prometheus_client import REGISTRY
from switchboard_contracts import BusError, ErrorCode
from switchboard_contracts.chat import LastSeqReply, LastSeqRequest
from switchboard_contracts.endpoints import Endpoint
from switchboard_runtime import Bus, BusUnavailableError, PublishUnavailableError
from switchboard_runtime.telemetry import tracing
from switchboard_runtime.telemetry.metrics import service_name

pytestmark = pytest.mark.component

WAIT = 5.0


@pytest.fixture
def endpoint() -> Endpoint[LastSeqRequest, LastSeqReply]:
    return Endpoint(
        f"test.endpoint.{secrets.token_hex(4)}", LastSeqRequest, LastSeqReply, "q", timeout=WAIT
    )


def request() -> LastSeqRequest:
    return LastSeqRequest(room="lobby")


def requests_counted(outcome: str) -> float:
    """Requests sent on subjects outside every family (a test's): counted as ``other``."""
    labels = {"service": service_name(), "subject": "other", "outcome": outcome}
    return REGISTRY.get_sample_value("switchboard_bus_requests_total", labels) or 0.0


async def test_a_request_is_answered_with_the_endpoint_s_reply_type(
    nc: Client, endpoint: Endpoint[LastSeqRequest, LastSeqReply]
) -> None:
    async def accept(asked: LastSeqRequest) -> LastSeqReply:
        return LastSeqReply(seq=len(asked.room))

    bus = Bus.attach(nc)
    await bus.serve(endpoint, accept)
    before = requests_counted("ok")

    reply: LastSeqReply = await bus.ask(endpoint, request())

    assert reply == LastSeqReply(seq=5)
    assert requests_counted("ok") == before + 1


async def test_nobody_serving_is_the_unavailable_error_reply(
    nc: Client, endpoint: Endpoint[LastSeqRequest, LastSeqReply]
) -> None:
    before = requests_counted("no_responders")

    reply = await Bus.attach(nc).ask(endpoint, request())

    assert reply.error == BusError(
        code=ErrorCode.UNAVAILABLE, message=f"{endpoint.subject} did not answer in time; retry"
    )
    assert requests_counted("no_responders") == before + 1


async def test_no_answer_within_the_timeout_is_the_unavailable_error_reply(
    nc: Client, endpoint: Endpoint[LastSeqRequest, LastSeqReply]
) -> None:
    silent = await nc.subscribe(endpoint.subject)  # there, never answering
    await nc.flush()
    before = requests_counted("timeout")

    reply = await Bus.attach(nc).ask(endpoint, request(), timeout=0.2)

    assert reply.error is not None
    assert reply.error.code is ErrorCode.UNAVAILABLE
    assert requests_counted("timeout") == before + 1
    await silent.unsubscribe()


async def test_a_caller_that_must_tell_no_answer_from_an_error_reply_gets_an_exception(
    nc: Client, endpoint: Endpoint[LastSeqRequest, LastSeqReply]
) -> None:
    with pytest.raises(BusUnavailableError, match="did not answer in time") as raised:
        await Bus.attach(nc).ask(endpoint, request(), raise_unanswered=True)
    assert raised.value.subject == endpoint.subject
    assert raised.value.error == BusError(
        code=ErrorCode.UNAVAILABLE, message=f"{endpoint.subject} did not answer in time; retry"
    )


async def test_an_unreadable_answer_is_the_internal_error_reply(
    nc: Client, endpoint: Endpoint[LastSeqRequest, LastSeqReply]
) -> None:
    async def garbage(msg: Msg) -> None:
        await msg.respond(b'{"seq": "not a number"}')

    await nc.subscribe(endpoint.subject, cb=garbage)

    reply = await Bus.attach(nc).ask(endpoint, request())

    assert reply.error == BusError(
        code=ErrorCode.INTERNAL, message=f"{endpoint.subject} gave an unreadable answer"
    )


async def test_an_error_the_handler_answers_reaches_the_caller_as_is(
    nc: Client, endpoint: Endpoint[LastSeqRequest, LastSeqReply]
) -> None:
    refusal = BusError(code=ErrorCode.FORBIDDEN, message="not a member")

    async def refuse(asked: LastSeqRequest) -> LastSeqReply:
        del asked
        return LastSeqReply(error=refusal)

    bus = Bus.attach(nc)
    await bus.serve(endpoint, refuse)

    assert (await bus.ask(endpoint, request())).error == refusal


@pytest.mark.parametrize(
    ("failure", "code", "message"),
    [
        (
            PublishUnavailableError("not acked"),
            ErrorCode.UNAVAILABLE,
            "JetStream did not answer in time; retry with the same id",
        ),
        (ValueError("a bug"), ErrorCode.INTERNAL, "{subject} failed; retry"),
    ],
    ids=["publish-unavailable", "other"],
)
async def test_a_handler_that_raises_is_answered_with_the_standard_error_reply(
    nc: Client,
    endpoint: Endpoint[LastSeqRequest, LastSeqReply],
    failure: Exception,
    code: ErrorCode,
    message: str,
) -> None:
    async def fail(asked: LastSeqRequest) -> LastSeqReply:
        del asked
        raise failure

    bus = Bus.attach(nc)
    await bus.serve(endpoint, fail)

    reply = await bus.ask(endpoint, request())

    assert reply.error == BusError(code=code, message=message.format(subject=endpoint.subject))


async def test_an_undecodable_request_is_answered_invalid_frame(
    nc: Client, endpoint: Endpoint[LastSeqRequest, LastSeqReply]
) -> None:
    async def never(asked: LastSeqRequest) -> LastSeqReply:
        raise AssertionError(f"handled {asked}")

    await Bus.attach(nc).serve(endpoint, never)

    answer = await nc.request(endpoint.subject, b'{"room": 1}', timeout=WAIT)

    reply = LastSeqReply.decode(answer.data)
    assert reply.error is not None
    assert reply.error.code is ErrorCode.INVALID_FRAME


async def test_the_handler_runs_in_the_asker_s_trace(
    nc: Client, endpoint: Endpoint[LastSeqRequest, LastSeqReply]
) -> None:
    seen: list[int] = []

    async def remember(asked: LastSeqRequest) -> LastSeqReply:
        del asked
        seen.append(trace.get_current_span().get_span_context().trace_id)
        return LastSeqReply()

    bus = Bus.attach(nc)
    await bus.serve(endpoint, remember)
    caller = SpanContext(
        trace_id=0x0123456789ABCDEF0123456789ABCDEF,
        span_id=0x0123456789ABCDEF,
        is_remote=False,
        trace_flags=TraceFlags(TraceFlags.DEFAULT),
    )
    with (
        mock.patch(
            "switchboard_runtime.messaging.bus.producer_span", wraps=tracing.producer_span
        ) as span,
        trace.use_span(NonRecordingSpan(caller)),
    ):
        await bus.ask(endpoint, request())

    assert seen == [caller.trace_id]
    assert span.call_args.args == ("request", endpoint.subject)
