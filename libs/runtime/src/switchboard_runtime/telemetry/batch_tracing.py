"""One PRODUCER span over a batch of publishes (a broadcast's page of inbox entries).

``producer_span`` opens a span per message: for thousands of messages that is most of the cost of
publishing them. A batch's caller opens this span once and passes the headers it yields to each
publish of the batch (``stream_publish_in_context``), so every message still carries a trace
context (the batch's) and whoever consumes it continues that trace.
"""

import contextlib
from collections.abc import Iterator, Mapping

from opentelemetry.trace import SpanKind

from switchboard_runtime.telemetry.metrics import subject_template
from switchboard_runtime.telemetry.tracing import (
    MESSAGING_SYSTEM,
    inject_context,
    tracer,
    unrecorded_caller_context,
)

__all__ = ["producer_batch_span"]


@contextlib.contextmanager
def producer_batch_span(
    subject: str, count: int, attributes: Mapping[str, str] | None = None
) -> Iterator[dict[str, str]]:
    """A PRODUCER span for ``count`` publishes to ``subject``'s family; yields the trace headers
    to send with each of them. Under an unrecorded caller (a parent-based sampler) no span is
    made: they carry the caller's context, as ``producer_span``'s do."""
    unrecorded = unrecorded_caller_context()
    if unrecorded is not None:
        yield unrecorded
        return
    template = subject_template(subject)
    with tracer().start_as_current_span(
        f"publish {template}",
        kind=SpanKind.PRODUCER,
        attributes={
            "messaging.system": MESSAGING_SYSTEM,
            "messaging.operation.name": "publish",
            "messaging.operation.type": "send",
            "messaging.destination.template": template,
            "messaging.batch.message_count": count,
            **(attributes or {}),
        },
    ):
        yield inject_context()
