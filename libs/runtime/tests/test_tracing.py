import contextlib
from collections.abc import Iterator
from unittest import mock

import pytest
from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from switchboard_runtime import ServiceSettings
from switchboard_runtime.telemetry.batch_tracing import producer_batch_span
from switchboard_runtime.telemetry.tracing import (
    consumer_span,
    extract_context,
    inject_context,
    producer_span,
    sampler,
    start_consumer_span,
)

_exporter = InMemorySpanExporter()


@pytest.fixture
def spans() -> InMemorySpanExporter:
    """The process-wide tracer provider can be set once: the first test using it sets it."""
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(_exporter))
        trace.set_tracer_provider(provider)
    _exporter.clear()
    return _exporter


def test_a_message_carries_its_producer_span_to_its_consumer(
    spans: InMemorySpanExporter,
) -> None:
    with producer_span(
        "publish", "chat.room.lobby", headers={"Nats-Msg-Id": "m-1"}, message_id="m-1"
    ) as headers:
        pass
    assert headers["Nats-Msg-Id"] == "m-1"
    assert headers["traceparent"].startswith("00-")
    with consumer_span("chat.room.lobby", headers, group="persistence-chat"):
        pass
    producer, consumer = spans.get_finished_spans()
    assert producer.name == consumer.name.replace("process", "publish") == "publish chat.room.>"
    assert producer.kind == SpanKind.PRODUCER
    assert consumer.kind == SpanKind.CONSUMER
    assert consumer.context.trace_id == producer.context.trace_id
    assert consumer.parent is not None
    assert consumer.parent.span_id == producer.context.span_id
    assert dict(producer.attributes or {}) == {
        "messaging.system": "nats",
        "messaging.operation.name": "publish",
        "messaging.operation.type": "send",
        "messaging.destination.name": "chat.room.lobby",
        "messaging.destination.template": "chat.room.>",
        "messaging.message.id": "m-1",
    }
    assert (consumer.attributes or {})["messaging.consumer.group.name"] == "persistence-chat"
    assert (consumer.attributes or {})["messaging.message.id"] == "m-1"


def test_a_message_without_trace_context_starts_a_new_trace(
    spans: InMemorySpanExporter,
) -> None:
    # a message arriving while another span is current is not that span's child
    with producer_span("publish", "chat.cmd.send"), consumer_span("chat.cmd.send", None):
        pass
    consumer, producer = spans.get_finished_spans()
    assert consumer.parent is None
    assert consumer.context.trace_id != producer.context.trace_id


def test_an_exception_in_the_handler_marks_the_span(spans: InMemorySpanExporter) -> None:
    with pytest.raises(RuntimeError), consumer_span("chat.cmd.send", {}):
        raise RuntimeError("boom")
    [span] = spans.get_finished_spans()
    assert not span.status.is_ok


def test_no_context_is_injected_outside_a_span() -> None:
    assert "traceparent" not in inject_context({"a": "b"})
    assert extract_context({}) is not None


def test_otlp_endpoint_comes_from_the_standard_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    assert ServiceSettings().otlp_traces_endpoint is None
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")
    assert ServiceSettings().otlp_traces_endpoint == "http://collector:4318/v1/traces"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://other:4318/t")
    assert ServiceSettings().otlp_traces_endpoint == "http://other:4318/t"


def test_an_unsupported_otlp_protocol_stops_the_service_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    with pytest.raises(ValueError, match="otel_exporter_otlp_protocol"):
        ServiceSettings()


def test_the_samplers_are_named_as_opentelemetry_names_them() -> None:
    assert sampler("parentbased_traceidratio", 0.25).get_description() == (
        "ParentBased{root:TraceIdRatioBased{0.25},remoteParentSampled:AlwaysOnSampler,"
        "remoteParentNotSampled:AlwaysOffSampler,localParentSampled:AlwaysOnSampler,"
        "localParentNotSampled:AlwaysOffSampler}"
    )
    assert sampler("always_off", 1.0).get_description() == "AlwaysOffSampler"
    assert ServiceSettings().otel_traces_sampler == "parentbased_traceidratio"
    with pytest.raises(ValueError, match="unknown sampler"):
        sampler("sometimes", 0.5)


def test_a_trace_the_edge_did_not_sample_is_not_recorded_downstream_but_keeps_its_ids() -> None:
    unsampled = TracerProvider(sampler=sampler("parentbased_traceidratio", 0.0))
    exporter = InMemorySpanExporter()
    unsampled.add_span_processor(SimpleSpanProcessor(exporter))
    with (
        mock.patch("switchboard_runtime.telemetry.tracing._tracer", unsampled.get_tracer("t")),
        producer_span("request", "chat.cmd.send") as headers,
    ):
        assert not trace.get_current_span().is_recording()  # not made current: no work
    assert int(headers["traceparent"][-2:], 16) & 1 == 0  # "not sampled" travels on
    with mock.patch("switchboard_runtime.telemetry.tracing._tracer", unsampled.get_tracer("t")):
        with consumer_span("chat.cmd.send", headers) as span:
            assert not span.is_recording()
            context = trace.get_current_span().get_span_context()
            assert context.trace_id == int(headers["traceparent"].split("-")[1], 16)
        child = start_consumer_span("chat.room.lobby", inject_context_of(span))
        assert not child.is_recording()
    assert exporter.get_finished_spans() == ()


def inject_context_of(span: trace.Span) -> dict[str, str]:
    carrier: dict[str, str] = {}
    propagate.inject(carrier, context=trace.set_span_in_context(span))
    return carrier


def test_a_sampled_caller_is_followed_even_when_new_traces_are_not_sampled(
    spans: InMemorySpanExporter,
) -> None:
    sampled = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    unsampled = TracerProvider(sampler=sampler("parentbased_traceidratio", 0.0))
    unsampled.add_span_processor(SimpleSpanProcessor(spans))
    with (
        mock.patch("switchboard_runtime.telemetry.tracing._tracer", unsampled.get_tracer("t")),
        consumer_span("chat.cmd.send", {"traceparent": sampled}) as span,
    ):
        assert span.is_recording()
        with producer_span("publish", "chat.room.lobby", message_id="m-1"):
            pass
    producer, consumer = spans.get_finished_spans()
    assert (producer.attributes or {})["messaging.message.id"] == "m-1"
    assert consumer.context.trace_id == int(sampled.split("-")[1], 16)


@contextlib.contextmanager
def following_the_caller() -> Iterator[InMemorySpanExporter]:
    """A parent-based sampler (every new trace recorded) as the tracer's; its finished spans."""
    provider = TracerProvider(sampler=sampler("parentbased_traceidratio", 1.0))
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with (
        mock.patch("switchboard_runtime.telemetry.tracing._tracer", provider.get_tracer("t")),
        mock.patch("switchboard_runtime.telemetry.tracing._follow_parent", new=True),
    ):
        yield exporter


def test_under_an_unrecorded_caller_a_parent_based_sampler_makes_no_span_at_all() -> None:
    caller = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
    with following_the_caller() as exporter:
        with consumer_span("chat.cmd.send", {"traceparent": caller}) as span:
            assert span.get_span_context().span_id == int(caller.split("-")[2], 16)
            with producer_span("publish", "chat.room.lobby") as headers:
                pass
        assert headers["traceparent"] == caller  # the caller's context travels on as it came
        with consumer_span("chat.cmd.send", {}) as root:
            assert root.is_recording()  # a new trace is still the sampler's to decide
        malformed = {"traceparent": caller.replace("-00", "-0x")}
        with consumer_span("chat.cmd.send", malformed) as fresh:
            assert fresh.is_recording()  # not a valid context: a new trace
    assert [s.name for s in exporter.get_finished_spans()] == ["process chat.cmd.send"] * 2


def test_under_an_unrecorded_caller_a_batch_makes_no_span_and_carries_the_caller_s_context() -> (
    None
):
    caller = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
    with following_the_caller() as exporter:
        with (
            consumer_span("chat.cmd.send-batch", {"traceparent": caller}),
            producer_batch_span("chat.room.lobby", 3) as headers,
        ):
            pass
        assert headers == {"traceparent": caller}
        with producer_batch_span("chat.room.lobby", 3) as fresh:  # no caller: the sampler's
            pass
    assert fresh["traceparent"] != caller
    [batch] = exporter.get_finished_spans()
    assert batch.name == "publish chat.room.>"
    assert (batch.attributes or {})["messaging.batch.message_count"] == 3


def test_an_unrecorded_caller_s_trace_state_travels_on_with_its_context() -> None:
    caller = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
    with (
        mock.patch("switchboard_runtime.telemetry.tracing._follow_parent", new=True),
        trace.use_span(trace.NonRecordingSpan(extract_span(caller, "vendor=1"))),
        producer_span("publish", "chat.room.lobby", headers={"Nats-Msg-Id": "m"}) as headers,
    ):
        pass
    assert headers == {"Nats-Msg-Id": "m", "traceparent": caller, "tracestate": "vendor=1"}


def extract_span(traceparent: str, tracestate: str) -> trace.SpanContext:
    context = extract_context({"traceparent": traceparent, "tracestate": tracestate})
    return trace.get_current_span(context).get_span_context()


def test_with_the_sdk_off_a_consumer_span_is_the_caller_s_context_read_without_the_propagator() -> (
    None
):
    for flags in ("00", "01"):
        caller = f"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-{flags}"
        with (
            mock.patch("switchboard_runtime.telemetry.tracing._sdk_disabled", new=True),
            mock.patch("switchboard_runtime.telemetry.tracing._tracer", trace.NoOpTracer()),
            mock.patch("switchboard_runtime.telemetry.tracing.extract_context") as propagator,
            consumer_span("chat.room.lobby", {"traceparent": caller}) as span,
        ):
            context = span.get_span_context()
            assert not span.is_recording()
            assert (context.trace_id, context.span_id) == (
                int(caller.split("-")[1], 16),
                int(caller.split("-")[2], 16),
            )
            assert context.trace_flags.sampled == (flags == "01")
            with producer_span("publish", "chat.room.lobby") as headers:
                pass
        assert headers["traceparent"] == caller  # the context travels on as it came
        propagator.assert_not_called()
