"""Property tests of SSE serialisation: whatever the data, a WHATWG parser reads back exactly
the event that was written; an unsafe id or event name is refused with ``SseFieldError``, never
written, and no other exception escapes."""

import re

from hypothesis import given
from hypothesis import strategies as st
from switchboard_gateway.transport.sse import SseFieldError, sse_comment, sse_event

_LINE = re.compile(r"\r\n|\r|\n")


def parse_stream(text: str) -> list[dict[str, str]]:
    """Dispatched events of a stream, per the WHATWG 'interpreting an event stream' rules."""
    events: list[dict[str, str]] = []
    data: list[str] = []
    fields: dict[str, str] = {}
    lines = _LINE.split(text)
    for line in lines[:-1]:  # the last piece has no line ending yet
        if line == "":
            if data:
                events.append({**fields, "data": "\n".join(data)})
            data, fields = [], {}
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            data.append(value)
        elif name in ("event", "id", "retry"):
            fields[name] = value
    return events


@given(
    st.text(),
    st.text(max_size=30) | st.none(),
    st.integers(min_value=0, max_value=2**63) | st.text(max_size=30) | st.none(),
)
def test_an_event_round_trips_or_is_refused(
    data: str, event: str | None, id: int | str | None
) -> None:
    try:
        block = sse_event(data, event=event, id=id)
    except SseFieldError:
        unsafe = [v for v in (event, None if isinstance(id, int) else id) if v is not None]
        assert any(re.search(r"[\r\n\x00]", v) for v in unsafe)
        return
    (parsed,) = parse_stream(block)
    expected_data = "\n".join(_LINE.split(data))
    assert parsed["data"] == expected_data
    if event is not None:
        assert parsed["event"] == event
    if id is not None:
        assert parsed["id"] == str(id)


@given(st.lists(st.text(), max_size=5))
def test_a_stream_of_events_yields_the_same_number_of_events(datas: list[str]) -> None:
    stream = "".join(sse_event(d, id=i) for i, d in enumerate(datas))
    parsed = parse_stream(stream)
    assert [e["id"] for e in parsed] == [str(i) for i in range(len(datas))]


@given(st.text())
def test_a_comment_dispatches_nothing_whatever_its_text(text: str) -> None:
    assert parse_stream(sse_comment(text) + sse_event("after")) == [{"data": "after"}]
