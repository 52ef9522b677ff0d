"""Traces across the bus: W3C trace context in NATS message headers, messaging semantic conventions.

A publish or request opens a PRODUCER span and writes its context into the message's headers
(``traceparent``, ``tracestate``); whoever handles the message opens a CONSUMER span whose parent
is that context, so one chat message is one trace through gateway, chat and persistence, also
across JetStream, which keeps the headers with the message.

Span names are ``<operation> <subject family>`` (``publish chat.room.>``); attributes follow the
OpenTelemetry messaging conventions (``messaging.system`` = ``nats``, ``messaging.operation.*``,
``messaging.destination.name`` and ``.template``, ``messaging.consumer.group.name``,
``messaging.message.id``, ``messaging.message.body.size``).

Which traces are recorded is the sampler's choice (``OTEL_TRACES_SAMPLER``, by default
``parentbased_traceidratio`` at ``OTEL_TRACES_SAMPLER_ARG`` = 0.01): the service where a trace
starts (the gateway) decides, and every later hop follows the decision carried in
``traceparent``. A span that is not recorded costs next to nothing here: no attributes are built,
the producer side does not make it current, and its context (with the "not sampled" flag) still
travels in the headers and gives log lines their ids. Recorded spans are exported only when an
OTLP endpoint is set (or ``OTEL_TRACES_EXPORTER=console``).
"""

import contextlib
import logging
from collections.abc import Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    ParentBased,
    Sampler,
    TraceIdRatioBased,
)
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    Span,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
)

from switchboard_runtime.telemetry.metrics import subject_template
from switchboard_runtime.telemetry.settings import TelemetrySettings

__all__ = [
    "MESSAGING_SYSTEM",
    "caller_unrecorded",
    "consumer_span",
    "extract_context",
    "inject_context",
    "mark_error",
    "producer_span",
    "sampler",
    "setup_tracing",
    "shutdown_tracing",
    "start_consumer_span",
    "tracer",
    "unrecorded_caller_context",
]

log = logging.getLogger(__name__)

MESSAGING_SYSTEM = "nats"
_INSTRUMENTATION = "switchboard"

_provider: TracerProvider | None = None
_tracer: trace.Tracer | None = None
# The sampler follows the caller's decision (``parentbased_*``): under a caller that is not
# recorded no span is made at all, and the caller's context is what travels on.
_follow_parent = False
# ``OTEL_SDK_DISABLED``: no span is ever recorded, so a consumer span is only the caller's
# context, read the cheap way whatever its sampled flag says.
_sdk_disabled = False
TRACEPARENT_LENGTH = 55  # "00-" + 32 hex digits + "-" + 16 + "-" + 2


def sampler(name: str, ratio: float) -> Sampler:
    """The sampler an ``OTEL_TRACES_SAMPLER`` name and ``OTEL_TRACES_SAMPLER_ARG`` describe."""
    root: Sampler
    if name.endswith("always_on"):
        root = ALWAYS_ON
    elif name.endswith("always_off"):
        root = ALWAYS_OFF
    elif name.endswith("traceidratio"):
        root = TraceIdRatioBased(ratio)
    else:
        raise ValueError(f"unknown sampler {name!r}")
    return ParentBased(root) if name.startswith("parentbased_") else root


def setup_tracing(settings: TelemetrySettings, service: str, instance: str = "") -> None:
    """Install the SDK's tracer provider, exporting where the ``OTEL_*`` settings say."""
    global _provider, _sdk_disabled  # noqa: PLW0603 (the tracer provider is process-wide)
    _sdk_disabled = settings.otel_sdk_disabled
    if settings.otel_sdk_disabled:
        return
    attributes: dict[str, Any] = {
        "service.name": settings.otel_service_name or service,
        "service.namespace": "switchboard",
    }
    if instance:
        attributes["service.instance.id"] = instance
    provider = TracerProvider(
        resource=Resource.create(attributes),
        sampler=sampler(settings.otel_traces_sampler, settings.otel_traces_sampler_arg),
    )
    endpoint = settings.otlp_traces_endpoint
    if settings.otel_traces_exporter == "otlp" and endpoint:
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
        log.info("exporting spans over OTLP/HTTP to %s", endpoint)
    elif settings.otel_traces_exporter == "console":
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    trace.set_tracer_provider(provider)
    _provider = provider
    global _tracer, _follow_parent  # noqa: PLW0603 (cached with the provider it comes from)
    _tracer = None
    _follow_parent = settings.otel_traces_sampler.startswith("parentbased_")


def shutdown_tracing() -> None:
    """Export what is still buffered; call once, at exit."""
    if _provider is not None:
        _provider.shutdown()


def tracer() -> trace.Tracer:
    """Switchboard's tracer, made once (``get_tracer`` costs a few µs per call)."""
    global _tracer  # noqa: PLW0603 (one per process, like the provider)
    if _tracer is None:
        _tracer = trace.get_tracer(_INSTRUMENTATION)
    return _tracer


def unrecorded_caller_context(headers: Mapping[str, str] | None = None) -> dict[str, str] | None:
    """``headers`` plus the current context when a producer span would be nothing but it: the
    current span is not recorded and the sampler follows it (a parent-based one). The caller's
    context, "not sampled", then travels on as it came, and no span is made. None otherwise
    (make the span). A context without a trace state is written directly, not through the W3C
    propagator (which is most of the cost of a publish under such a caller)."""
    if not _follow_parent:
        return None
    context = trace.get_current_span().get_span_context()
    if not context.is_valid or context.trace_flags.sampled:
        return None
    carrier = dict(headers or {})
    if context.trace_state:
        propagate.inject(carrier)
    else:
        carrier["traceparent"] = (
            f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"
        )
    return carrier


def inject_context(headers: Mapping[str, str] | None = None) -> dict[str, str]:
    """``headers`` plus the current trace context (W3C ``traceparent``/``tracestate``)."""
    carrier = dict(headers or {})
    propagate.inject(carrier)
    return carrier


def extract_context(headers: Mapping[str, str] | None) -> otel_context.Context:
    """The trace context a message carries; an empty context (a new trace) when it has none."""
    if not headers or "traceparent" not in headers:
        return otel_context.Context()
    return propagate.extract(dict(headers), context=otel_context.Context())


def _attributes(
    operation: str,
    kind: str,
    subject: str,
    *,
    message_id: str | None = None,
    body_size: int | None = None,
    group: str | None = None,
    batch_size: int | None = None,
) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "messaging.system": MESSAGING_SYSTEM,
        "messaging.operation.name": operation,
        "messaging.operation.type": kind,
        "messaging.destination.name": subject,
        "messaging.destination.template": subject_template(subject),
    }
    if message_id is not None:
        attributes["messaging.message.id"] = message_id
    if body_size is not None:
        attributes["messaging.message.body.size"] = body_size
    if group:
        attributes["messaging.consumer.group.name"] = group
    if batch_size is not None:
        attributes["messaging.batch.message_count"] = batch_size
    return attributes


@contextlib.contextmanager
def producer_span(
    operation: str,
    subject: str,
    *,
    headers: Mapping[str, str] | None = None,
    message_id: str | None = None,
    body_size: int | None = None,
) -> Iterator[dict[str, str]]:
    """A PRODUCER span around a publish or request; yields the headers to send (context added).

    Not recorded (the sampler said no): only its context is sent on, nothing else is done."""
    carrier = unrecorded_caller_context(headers)
    if carrier is not None:
        yield carrier
        return
    span = tracer().start_span(f"{operation} {subject_template(subject)}", kind=SpanKind.PRODUCER)
    if not span.is_recording():
        carrier = dict(headers or {})
        propagate.inject(carrier, context=trace.set_span_in_context(span))
        yield carrier
        return
    span.set_attributes(
        _attributes(operation, "send", subject, message_id=message_id, body_size=body_size)
    )
    with trace.use_span(
        span, end_on_exit=True, record_exception=True, set_status_on_exception=True
    ):
        yield inject_context(headers)


def start_consumer_span(
    subject: str,
    headers: Mapping[str, str] | None,
    *,
    operation: str = "process",
    group: str | None = None,
    message_id: str | None = None,
    body_size: int | None = None,
    batch_size: int | None = None,
    links: Sequence[Link] = (),
) -> Span:
    """A CONSUMER span, child of the context the message carries; the caller ends it.

    Its attributes are built only when the sampler records it; under a caller that is not
    recorded (and a parent-based sampler) it is the caller's span context, made no new span."""
    if _follow_parent or _sdk_disabled:
        caller = _unrecorded_caller(headers)
        if caller is not None:
            return caller
    context = extract_context(headers)
    span = tracer().start_span(
        f"{operation} {subject_template(subject)}",
        context=context,
        kind=SpanKind.CONSUMER,
        links=links,
    )
    if span.is_recording():
        span.set_attributes(
            _attributes(
                operation,
                "process",
                subject,
                message_id=message_id or (headers or {}).get("Nats-Msg-Id"),
                body_size=body_size,
                group=group,
                batch_size=batch_size,
            )
        )
    return span


class consumer_span:  # noqa: N801 (a context manager used like a function)
    """A current CONSUMER span around handling one message; an escaping exception marks it.

    A class, not a generator: every message of every subscription passes here, and
    ``contextlib`` plus ``trace.use_span`` cost twice what making the span current does."""

    __slots__ = ("_span", "_token")

    def __init__(
        self,
        subject: str,
        headers: Mapping[str, str] | None,
        *,
        group: str | None = None,
        body_size: int | None = None,
    ) -> None:
        self._span = start_consumer_span(subject, headers, group=group, body_size=body_size)

    def __enter__(self) -> Span:
        self._token = otel_context.attach(trace.set_span_in_context(self._span))
        return self._span

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        otel_context.detach(self._token)
        span = self._span
        if not span.is_recording():
            return
        if isinstance(exc, Exception):  # as use_span: not a cancellation or GeneratorExit
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
        span.end()


def _unrecorded_caller(headers: Mapping[str, str] | None) -> Span | None:
    """The caller's span when its ``traceparent`` says "not sampled" (with the SDK off: any
    plain one), read without the W3C propagator (its regular expressions cost more than the
    rest of an unrecorded span); None for anything else (sampled while the SDK is on, absent,
    with a ``tracestate``, or not plainly version 00)."""
    if not headers or "tracestate" in headers:
        return None
    parts = headers.get("traceparent", "").split("-")
    if len(parts) != 4 or parts[0] != "00" or len(parts[1]) != 32 or len(parts[2]) != 16:
        return None
    try:
        trace_id, span_id, flags = int(parts[1], 16), int(parts[2], 16), int(parts[3], 16)
    except ValueError:
        return None
    if not trace_id or not span_id or len(parts[3]) != 2:
        return None
    if flags & TraceFlags.SAMPLED and not _sdk_disabled:
        return None
    return NonRecordingSpan(
        SpanContext(trace_id, span_id, is_remote=True, trace_flags=TraceFlags(flags))
    )


def caller_unrecorded(headers: Mapping[str, str] | None) -> bool:
    """True when a consumer span for this message would be only its caller's context: the
    caller was not recorded and the sampler follows it (or the SDK is off). A consumer of many
    messages (persistence) then makes no span at all for it. String checks only, no parsing: a
    ``traceparent`` of the right shape that is not hex counts too (its span would have started
    a new trace, recorded at the sampler's ratio)."""
    if not (_follow_parent or _sdk_disabled) or not headers or "tracestate" in headers:
        return False
    parent = headers.get("traceparent")
    if parent is None or len(parent) != TRACEPARENT_LENGTH or not parent.startswith("00-"):
        return False
    return _sdk_disabled or parent.endswith("-00")


def mark_error(span: Span, description: str) -> None:
    span.set_status(Status(StatusCode.ERROR, description))
