import io
import json
import logging
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from pydantic import BaseModel, ValidationError
from switchboard_runtime import ServiceSettings
from switchboard_runtime.telemetry.logs import configure_logging, log_failure, redact


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            'GET "WebSocket /chat/r?userId=a&token=abc.def-ghi" [accepted]',
            'GET "WebSocket /chat/r?userId=a&token=[REDACTED]" [accepted]',
        ),
        ("/stream?access_token=xyz&lastEventId=4", "/stream?access_token=[REDACTED]&lastEventId=4"),
        ("/x?PASSWORD=hunter2", "/x?PASSWORD=[REDACTED]"),
        ("Authorization: Bearer abc.def.ghi", "Authorization: Bearer [REDACTED]"),
        ("postgresql://app:s3cret@db:5432/sb", "postgresql://app:[REDACTED]@db:5432/sb"),
        ("sub=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln here", "sub=[REDACTED] here"),
        ('{"message": "/a?token=[REDACTED]\\" 200"}', '{"message": "/a?token=[REDACTED]\\" 200"}'),
        ("/api/rooms/r/messages?before=3&limit=50", "/api/rooms/r/messages?before=3&limit=50"),
    ],
)
def test_redact_blanks_secrets_and_keeps_the_rest(line: str, expected: str) -> None:
    assert redact(line) == expected


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    stream = io.StringIO()
    yield stream
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


def configure(stream: io.StringIO, log_format: str, level: str = "INFO") -> None:
    configure_logging(ServiceSettings(log_format=log_format), level, "gateway")  # type: ignore[arg-type]
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)


def test_json_lines_carry_service_and_the_current_trace_and_span_ids(
    captured: io.StringIO,
) -> None:
    configure(captured, "json")
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("work") as span:
        logging.getLogger("switchboard.test").info("joined %s?token=%s", "/chat/r", "secret-1")
    entry = json.loads(captured.getvalue())
    context = span.get_span_context()
    assert entry["service"] == "gateway"
    assert entry["level"] == "INFO"
    assert entry["logger"] == "switchboard.test"
    assert entry["message"] == "joined /chat/r?token=[REDACTED]"
    assert entry["trace_id"] == format(context.trace_id, "032x")
    assert entry["span_id"] == format(context.span_id, "016x")


def test_text_lines_are_for_people(captured: io.StringIO) -> None:
    configure(captured, "text")
    logging.getLogger("switchboard.test").warning("no NATS")
    line = captured.getvalue()
    assert "WARNING switchboard.test: no NATS" in line
    assert not line.startswith("{")


def test_debug_never_enables_the_loggers_that_print_frames(captured: io.StringIO) -> None:
    configure(captured, "json", level="DEBUG")
    assert logging.getLogger().isEnabledFor(logging.DEBUG)
    assert not logging.getLogger("uvicorn.error").isEnabledFor(logging.DEBUG)
    assert not logging.getLogger("websockets.server").isEnabledFor(logging.DEBUG)


class Message(BaseModel):
    content: int


def test_a_validation_failure_is_logged_without_the_input(captured: io.StringIO) -> None:
    configure(captured, "json")
    with pytest.raises(ValidationError) as caught:
        Message.model_validate({"content": "the body nobody may read"})
    log_failure(logging.getLogger("switchboard.test"), caught.value, "handling %s failed", "x")
    entry = json.loads(captured.getvalue())
    assert entry["message"] == "handling x failed (content: int_parsing)"
    assert "nobody may read" not in captured.getvalue()
