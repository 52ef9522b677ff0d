"""Server text frames built once per message: parsed back by the ``websockets`` library's own
frame parser at every length boundary of the header (RFC 6455 §5.2)."""

import pytest
from switchboard_gateway.transport.wire import SharedFrame, TimedFrame, text_frame, wire_of
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader


def parse(data: bytes) -> tuple[Frame, bytes]:
    """The first frame in ``data`` as a client parses it, and what is left after it."""
    reader = StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    parser = Frame.parse(reader.read_exact, mask=False, max_size=None)
    try:
        next(parser)
    except StopIteration as done:
        frame: Frame = done.value
    else:
        raise AssertionError("the frame is incomplete")
    return frame, bytes(reader.buffer)


@pytest.mark.parametrize("length", [0, 1, 125, 126, 127, 65535, 65536, 70000])
def test_a_text_frame_of_any_length_parses_back_to_its_payload(length: int) -> None:
    payload = b"x" * length
    frame, rest = parse(text_frame(payload))
    assert (frame.opcode, frame.fin, bytes(frame.data), rest) == (Opcode.TEXT, True, payload, b"")


@pytest.mark.parametrize(("length", "header"), [(125, 2), (126, 4), (65535, 4), (65536, 10)])
def test_the_header_grows_at_the_protocol_boundaries(length: int, header: int) -> None:
    assert len(text_frame(b"y" * length)) == length + header


def test_the_length_is_that_of_the_utf8_payload_not_of_the_text() -> None:
    text = "é" * 100  # 200 bytes: a 16-bit length although the text has 100 characters
    frame, _ = parse(wire_of(text))
    assert bytes(frame.data).decode() == text
    assert len(wire_of(text)) == 200 + 4


def test_frames_written_back_to_back_parse_as_separate_frames() -> None:
    first, rest = parse(text_frame(b"a" * 126) + text_frame(b"b"))
    second, rest = parse(rest)
    assert (bytes(first.data), bytes(second.data), rest) == (b"a" * 126, b"b", b"")


def test_a_shared_frame_is_framed_once_and_stays_its_text() -> None:
    shared = SharedFrame('{"type":"chat"}')
    assert wire_of(shared) is wire_of(shared)
    assert shared == '{"type":"chat"}'
    timed = TimedFrame('{"type":"chat"}', 0.0)
    assert wire_of(timed) is timed.wire()
    assert bytes(parse(timed.wire())[0].data) == b'{"type":"chat"}'
