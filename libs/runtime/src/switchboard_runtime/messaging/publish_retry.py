"""JetStream publishes retried with the same message id until acked, or until a deadline.

A publish whose answer does not come (a timeout, "no responders" while JetStream restarts, a
dropped connection) may or may not have been stored. Sending it again with the same
``Nats-Msg-Id`` is safe: an attempt that landed is answered ``duplicate`` with its stream
sequence, and nothing is stored twice. With ``Nats-Expected-Last-Subject-Sequence`` (the same
on every attempt), JetStream 2.15 checks the sequence first: a retry of an attempt that landed
gets "wrong last sequence", raised to the caller like any answer; ``SubjectSequencer`` then
re-reads the head and sends the same id again, which the id check answers as a duplicate.
Attempts are spaced by a jittered exponential backoff; past the deadline the last error is raised
as ``PublishUnavailableError`` so the caller answers with an error and its client retries.
"""

import asyncio
import logging
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass

import nats.errors
from nats.js import JetStreamContext
from nats.js.api import PubAck
from nats.js.errors import NoStreamResponseError, ServiceUnavailableError
from switchboard_contracts import BusError, ErrorCode

from switchboard_runtime.errors import UnavailableError
from switchboard_runtime.messaging.bus import stream_publish, stream_publish_in_context
from switchboard_runtime.service.settings import ServiceSettings
from switchboard_runtime.telemetry.metrics import (
    BUS_PUBLISH_RETRIES,
    service_name,
    subject_template,
)

__all__ = ["PublishRetry", "PublishUnavailableError", "publish_until_acked"]

log = logging.getLogger(__name__)

# Failures after which the message may or may not be stored: worth the same message again.
RETRYABLE: tuple[type[Exception], ...] = (
    nats.errors.TimeoutError,  # the answer was lost or JetStream is slow (includes asyncio's)
    nats.errors.NoRespondersError,
    NoStreamResponseError,  # nobody answers for the stream: JetStream (re)starting
    ServiceUnavailableError,  # JetStream answered 503
    nats.errors.ConnectionReconnectingError,
    nats.errors.OutboundBufferLimitError,  # the reconnect buffer is full
    nats.errors.UnexpectedEOF,
    nats.errors.StaleConnectionError,
)


class PublishUnavailableError(UnavailableError):
    """JetStream did not ack within the deadline; the message may or may not be stored, and a
    retry with the same message id stores it at most once."""

    @property
    def error(self) -> BusError:
        """What a request whose message this was is answered (``Bus.serve``, chat's batches)."""
        return BusError(
            code=ErrorCode.UNAVAILABLE,
            message="JetStream did not answer in time; retry with the same id",
        )


@dataclass(frozen=True)
class PublishRetry:
    """How long and how often to retry; from ``PUBLISH_*`` settings."""

    deadline_seconds: float = 4.0
    attempt_timeout_seconds: float = 1.0
    first_backoff_seconds: float = 0.05
    max_backoff_seconds: float = 0.5

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> "PublishRetry":
        return cls(
            deadline_seconds=settings.publish_deadline_seconds,
            attempt_timeout_seconds=settings.publish_attempt_timeout_seconds,
        )

    def backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(max, first·2ⁿ)]."""
        ceiling = min(self.max_backoff_seconds, self.first_backoff_seconds * 2**attempt)
        return random.uniform(0, ceiling)  # noqa: S311 (spacing, not secrecy)


async def publish_until_acked(
    js: JetStreamContext,
    subject: str,
    payload: bytes,
    *,
    headers: Mapping[str, str],
    retry: PublishRetry,
    stream: str | None = None,
    traced: bool = True,
) -> PubAck:
    """``stream_publish`` until acked; ``headers`` must carry ``Nats-Msg-Id``.

    ``traced=False``: ``stream_publish_in_context`` instead, for a batch whose caller's span
    covers every message and whose ``headers`` already carry that span's context.

    Other errors (an ``APIError`` such as a wrong expected sequence, a closed connection) are
    raised at once: they are answers, not silence.
    """
    if not headers.get("Nats-Msg-Id"):
        raise ValueError("a retried publish needs a Nats-Msg-Id to be deduplicated")
    deadline = time.monotonic() + retry.deadline_seconds
    attempt = 0
    publish = stream_publish if traced else stream_publish_in_context
    while True:
        remaining = deadline - time.monotonic()
        try:
            return await publish(
                js,
                subject,
                payload,
                stream=stream,
                headers=headers,
                timeout=max(0.05, min(retry.attempt_timeout_seconds, remaining)),
            )
        except RETRYABLE as err:
            pause = retry.backoff(attempt)
            if time.monotonic() + pause >= deadline:
                raise PublishUnavailableError(
                    f"{subject}: not acked within {retry.deadline_seconds} s ({err!r})"
                ) from err
            BUS_PUBLISH_RETRIES.labels(service_name(), subject_template(subject)).inc()
            if attempt == 0:
                log.warning("publish to %s not acked (%r); retrying with the same id", subject, err)
            attempt += 1
            await asyncio.sleep(pause)
