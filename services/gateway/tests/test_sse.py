import pytest
from switchboard_gateway.transport.sse import SseFieldError, sse_comment, sse_event


def test_an_event_has_id_event_and_data_lines_and_ends_with_a_blank_line() -> None:
    assert sse_event('{"a":1}', event="notification", id=7) == (
        'id: 7\nevent: notification\ndata: {"a":1}\n\n'
    )


@pytest.mark.parametrize("text", ["one\ntwo\nthree", "one\r\ntwo\rthree"])
def test_multi_line_data_becomes_one_data_line_per_line(text: str) -> None:
    assert sse_event(text) == "data: one\ndata: two\ndata: three\n\n"


def test_empty_data_is_one_empty_data_line() -> None:
    assert sse_event("") == "data: \n\n"


def test_data_that_looks_like_fields_cannot_start_a_new_event() -> None:
    block = sse_event("x\n\nevent: evil\nid: 999\ndata: y")
    assert block == "data: x\ndata: \ndata: event: evil\ndata: id: 999\ndata: data: y\n\n"
    assert block.count("\n\n") == 1


@pytest.mark.parametrize("bad", ["1\n", "1\r2", "1\r\nevent: evil", "a\x00b"])
def test_ids_with_line_breaks_or_nul_are_refused(bad: str) -> None:
    with pytest.raises(SseFieldError, match="id"):
        sse_event("x", id=bad)


@pytest.mark.parametrize("bad", ["notification\ndata: evil", "x\r"])
def test_event_names_with_line_breaks_are_refused(bad: str) -> None:
    with pytest.raises(SseFieldError, match="event name"):
        sse_event("x", event=bad)


def test_retry_alone_dispatches_nothing() -> None:
    assert sse_event(retry_ms=3000) == "retry: 3000\n\n"


def test_a_negative_retry_is_refused() -> None:
    with pytest.raises(SseFieldError, match="retry"):
        sse_event(retry_ms=-1)


def test_a_comment_is_a_colon_line() -> None:
    assert sse_comment("keepalive") == ":keepalive\n\n"


def test_a_comment_with_line_breaks_stays_a_comment() -> None:
    assert sse_comment("a\nb") == ":a\n:b\n\n"
