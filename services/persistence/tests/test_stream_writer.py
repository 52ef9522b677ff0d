import uuid

from nats.aio.client import Client
from nats.aio.msg import Msg
from switchboard_contracts import streams
from switchboard_contracts.notify import Notification
from switchboard_persistence.stream_writer import StreamWriter


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
