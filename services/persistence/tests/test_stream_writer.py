import asyncio
import secrets
import uuid
from unittest import mock

import nats
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from opentelemetry import trace
from switchboard_contracts import ChatMessage, streams
from switchboard_contracts.notify import Notification
from switchboard_contracts.streams import ConsumerSpec, StreamSpec
from switchboard_devstack.stores import Stores
from switchboard_persistence.stream_writer import StreamWriter
from switchboard_runtime import ensure_stream


async def _insert(entries: list[Notification]) -> None:
    del entries


def writer() -> StreamWriter[Notification]:
    return StreamWriter(
        Client(),
        streams.PERSISTENCE_NOTIFY_CONSUMER,
        Notification,
        _insert,
        100,
        table="notifications",
    )


def traceparent() -> str:
    """An unsampled W3C context, as the gateway sends 99% of them."""
    return f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-00"


def message(nc: Client, parent: str | None, index: int) -> Msg:
    headers = {"Nats-Msg-Id": f"m-{index}"}
    if parent is not None:
        headers["traceparent"] = parent
    return Msg(_client=nc, subject=f"notify.user.u{index}", data=b"{}", headers=headers)


def test_the_entries_of_a_page_with_one_unsampled_context_share_its_span() -> None:
    nc = Client()
    page = traceparent()
    spans = writer()._spans([message(nc, page, i) for i in range(3)])
    assert spans[0] is spans[1] is spans[2]
    assert f"{spans[0].get_span_context().trace_id:032x}" == page.split("-")[1]


def test_messages_with_other_contexts_get_spans_of_their_own() -> None:
    nc = Client()
    first, second = traceparent(), traceparent()
    spans = writer()._spans([message(nc, first, 0), message(nc, second, 1), message(nc, first, 2)])
    trace_ids = [f"{span.get_span_context().trace_id:032x}" for span in spans]
    assert trace_ids == [first.split("-")[1], second.split("-")[1], first.split("-")[1]]
    assert spans[0] is not spans[1]
    assert spans[1] is not spans[2]


def test_under_a_parent_based_sampler_unrecorded_callers_get_no_span_and_recorded_ones_do() -> None:
    nc = Client()
    unrecorded = traceparent()
    recorded = traceparent()[:-2] + "01"
    with mock.patch("switchboard_runtime.telemetry.tracing._follow_parent", new=True):
        spans = writer()._spans([message(nc, unrecorded, 0), message(nc, recorded, 1)])
    assert spans[0] is trace.INVALID_SPAN  # only its caller's context: nothing to make
    assert spans[1] is not trace.INVALID_SPAN
    assert f"{spans[1].get_span_context().trace_id:032x}" == recorded.split("-")[1]


def chat_message(index: int) -> ChatMessage:
    return ChatMessage(
        id=f"m-{index}", room="r", seq=index, sender_id="u", content="hi", timestamp=index
    )


@pytest.mark.component
async def test_after_a_batch_that_drained_the_stream_the_writer_lingers_and_takes_the_rest_at_once(
    stores: Stores,
) -> None:
    token = secrets.token_hex(4)
    stream = StreamSpec(
        name=f"LINGER_{token}",
        subjects=(f"linger.{token}.>",),
        owner="test",
        max_age_seconds=600,
        duplicate_window_seconds=60,
    )
    spec = ConsumerSpec(
        stream=stream.name,
        durable="writer",
        filter_subject=f"linger.{token}.>",
        max_ack_pending=1000,
        ack_wait_seconds=30,
    )
    batches: list[int] = []
    first_written = asyncio.Event()
    all_written = asyncio.Event()

    async def insert(messages: list[ChatMessage]) -> None:
        batches.append(len(messages))
        first_written.set()
        if sum(batches) == 51:
            all_written.set()

    nc = await nats.connect(stores.nats_url)
    try:
        js = nc.jetstream()
        await ensure_stream(js, stream)
        writer = StreamWriter(nc, spec, ChatMessage, insert, 100, table="t", linger=1.0)
        running = asyncio.create_task(writer.run())
        await js.publish(f"linger.{token}.r", chat_message(0).encode())
        await asyncio.wait_for(first_written.wait(), timeout=10)
        for index in range(1, 51):  # while the writer lingers after its batch of one
            await js.publish(f"linger.{token}.r", chat_message(index).encode())
        await asyncio.wait_for(all_written.wait(), timeout=10)
        assert batches == [1, 50]  # the first at once, the rest together
        writer.stop()
        await asyncio.wait_for(running, timeout=10)
    finally:
        await nc.close()
