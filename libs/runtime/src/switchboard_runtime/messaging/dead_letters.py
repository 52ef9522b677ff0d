"""Moving a message a durable consumer cannot process to the DEAD_LETTERS stream, and serving
operators' requests to process one again (``switchboard-dead-letters replay``).

The dead letter is stored (JetStream acked it) before the caller acks the original, so nothing
acked is ever dropped: a crash in between dead-letters it again on redelivery, which the
dead letter's message id makes a duplicate within the stream's duplicate window. What goes there
and why is the consumer's decision; this module only keeps the letter (``switchboard_contracts.
dead_letters`` says its shape) and counts it in ``switchboard_jetstream_dead_letters_total``.
"""

import dataclasses
import logging
from collections.abc import Awaitable, Callable, Mapping

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.api import PubAck, RawStreamMsg
from nats.js.errors import NotFoundError
from pydantic import ValidationError
from switchboard_contracts import BusError, ErrorCode, endpoints, streams, subjects
from switchboard_contracts.dead_letters import (
    BODY_LEFT_HEADER,
    SEQUENCE_HEADER,
    DeadLetterKind,
    DeadLetterOrigin,
    DeadLetterReplayReply,
    DeadLetterReplayRequest,
    dead_letter_headers,
    dead_letter_id,
    original_headers,
    read_origin,
    short_reason,
)

from switchboard_runtime.messaging.bus import Bus, ensure_stream
from switchboard_runtime.messaging.publish_retry import PublishRetry, publish_until_acked
from switchboard_runtime.telemetry.logs import validation_summary
from switchboard_runtime.telemetry.metrics import (
    JETSTREAM_DEAD_LETTER_REPLAYS,
    JETSTREAM_DEAD_LETTERS,
    service_name,
)

__all__ = ["DeadLetters", "Fault", "describe_error", "serve_replays"]

log = logging.getLogger(__name__)

Fault = tuple[DeadLetterKind, str]
"""Why a message cannot be processed: the kind and a short reason (never its body)."""

ReplayProcess = Callable[[bytes, dict[str, str]], Awaitable[Fault | None]]
"""Processes an original message (bytes, headers, and ``SEQUENCE_HEADER``: where its stream
stored it) once: None when it is done, a Fault when it
failed for its data; raises when it failed for a transient reason (nothing changes)."""


def describe_error(err: BaseException) -> str:
    """A short reason for a dead letter: a validation error by location and type, anything else
    by its type (an exception's text may quote the message)."""
    if isinstance(err, ValidationError):
        return short_reason(f"invalid message: {validation_summary(err)}")
    return short_reason(type(err).__name__)


class DeadLetters:
    """Publishes dead letters to DEAD_LETTERS (creating the stream if its owner has not yet)."""

    def __init__(self, js: JetStreamContext, retry: PublishRetry | None = None) -> None:
        self._js = js
        self._retry = retry or PublishRetry()
        self._present = False

    async def ensure(self) -> None:
        """Create DEAD_LETTERS when it does not exist; an existing one is left as it is (its
        owner, persistence, brings it up to the spec at start)."""
        if self._present:
            return
        try:
            await self._js.stream_info(streams.DEAD_LETTERS.name)
        except NotFoundError:
            await ensure_stream(self._js, streams.DEAD_LETTERS)
        self._present = True

    async def publish(
        self,
        msg: Msg,
        *,
        kind: DeadLetterKind,
        reason: str,
        attempts: int,
    ) -> int:
        """Store ``msg`` (a JetStream message of a durable consumer) as a dead letter; returns
        its DEAD_LETTERS sequence. Raises when it could not be stored: keep the original unacked."""
        meta = msg.metadata
        origin = DeadLetterOrigin(
            stream=meta.stream,
            subject=msg.subject,
            sequence=meta.sequence.stream,
            consumer=meta.consumer,
            attempts=attempts,
        )
        return await self.store(msg.data, msg.headers, origin, kind, reason)

    async def store(
        self,
        data: bytes,
        headers: Mapping[str, str] | None,
        origin: DeadLetterOrigin,
        kind: DeadLetterKind,
        reason: str,
        *,
        replay_of: int | None = None,
    ) -> int:
        await self.ensure()
        letter_headers = dead_letter_headers(
            headers, origin, kind, reason, message_id=dead_letter_id(origin, replay_of)
        )
        if len(data) + _header_bytes(letter_headers) > self._max_payload():
            # The original and our headers exceed what the server takes (it would close the
            # connection): keep the letter without its body, which stays readable in the origin
            # stream (an operator's replay reads it there), rather than retry a publish that can
            # never succeed while the consumer waits behind it.
            letter_headers[BODY_LEFT_HEADER] = str(len(data))
            data = b""
        ack = await self._publish(origin, data, letter_headers)
        JETSTREAM_DEAD_LETTERS.labels(service_name(), origin.stream, kind.value).inc()
        log.warning(
            "dead letter %d: %s message %d (%s) after %d attempts: %s",
            ack.seq,
            origin.stream,
            origin.sequence,
            kind.value,
            origin.attempts,
            short_reason(reason),
        )
        return ack.seq

    def _max_payload(self) -> int:
        """The server's limit on a message (headers included), as the connection learnt it.
        nats-py keeps the connection private in the JetStream context; a test pins it."""
        nc: Client = self._js._nc
        return nc.max_payload

    async def _publish(
        self, origin: DeadLetterOrigin, data: bytes, headers: Mapping[str, str]
    ) -> PubAck:
        return await publish_until_acked(
            self._js,
            subjects.dead_letter(origin.stream),
            data,
            headers=headers,
            retry=self._retry,
            stream=streams.DEAD_LETTERS.name,
            traced=False,  # the letter keeps the original's trace context, not this publish's
        )

    async def _body(self, letter: RawStreamMsg, origin: DeadLetterOrigin) -> bytes:
        """The original's body: the letter's, or, for a letter stored without it, the original
        itself in its stream (NotFoundError once the stream no longer keeps it)."""
        if BODY_LEFT_HEADER not in (letter.headers or {}):
            return letter.data or b""
        original = await self._js.get_msg(origin.stream, seq=origin.sequence)
        return original.data or b""

    async def _letter(
        self, stream: str, sequence: int
    ) -> tuple[RawStreamMsg, DeadLetterOrigin, bytes] | DeadLetterReplayReply:
        """The dead letter at ``sequence`` of ``stream``, its origin and the original's body; or
        the error reply saying why there is none."""
        try:
            letter = await self._js.get_msg(streams.DEAD_LETTERS.name, seq=sequence)
        except NotFoundError:
            return _error(ErrorCode.NOT_FOUND, f"no dead letter {sequence}")
        try:
            origin, _, _ = read_origin(letter.headers)
        except ValueError:
            return _error(ErrorCode.INVALID_INPUT, f"message {sequence} is not a dead letter")
        if origin.stream != stream:
            return _error(
                ErrorCode.INVALID_INPUT, f"dead letter {sequence} is from {origin.stream}"
            )
        try:
            body = await self._body(letter, origin)
        except NotFoundError:
            return _error(
                ErrorCode.NOT_FOUND,
                f"dead letter {sequence}: its body left {origin.stream} (the stream's max age)",
            )
        return letter, origin, body

    async def replay(
        self, stream: str, sequence: int, process: ReplayProcess
    ) -> DeadLetterReplayReply:
        """Process the dead letter at ``sequence`` again (it must come from ``stream``): removed
        when it succeeds; when it fails for its data, stored again with the new reason and the
        old one removed; left as it is when it fails otherwise."""
        counted = JETSTREAM_DEAD_LETTER_REPLAYS.labels(service_name(), stream, "error")
        found = await self._letter(stream, sequence)
        if isinstance(found, DeadLetterReplayReply):
            counted.inc()
            return found
        letter, origin, body = found
        headers = original_headers(letter.headers)
        try:
            # The original's place in its stream too (what a notification's cursor is).
            fault = await process(body, {**headers, SEQUENCE_HEADER: str(origin.sequence)})
        except Exception as err:
            counted.inc()
            log.warning("replaying dead letter %d failed (%s); kept", sequence, type(err).__name__)
            return _error(ErrorCode.UNAVAILABLE, f"not processed, kept: {describe_error(err)}")
        if fault is None:
            await self._js.delete_msg(streams.DEAD_LETTERS.name, sequence)
            JETSTREAM_DEAD_LETTER_REPLAYS.labels(service_name(), stream, "replayed").inc()
            log.info("dead letter %d (%s %d) replayed", sequence, stream, origin.sequence)
            return DeadLetterReplayReply(replayed=True)
        kind, reason = fault
        again = dataclasses.replace(origin, attempts=origin.attempts + 1)
        # Stored again before the old one goes: at every moment one of them is there.
        new_sequence = await self.store(body, headers, again, kind, reason, replay_of=sequence)
        await self._js.delete_msg(streams.DEAD_LETTERS.name, sequence)
        JETSTREAM_DEAD_LETTER_REPLAYS.labels(service_name(), stream, "failed").inc()
        return DeadLetterReplayReply(sequence=new_sequence, reason=short_reason(reason))


def _header_bytes(headers: Mapping[str, str]) -> int:
    """What ``headers`` take on the wire (``NATS/1.0`` and a ``name: value`` line each)."""
    return 12 + sum(len(name.encode()) + len(value.encode()) + 4 for name, value in headers.items())


def _error(code: ErrorCode, message: str) -> DeadLetterReplayReply:
    return DeadLetterReplayReply(error=BusError(code=code, message=message))


async def serve_replays(
    bus: Bus, dead_letters: DeadLetters, stream: str, process: ReplayProcess
) -> Subscription:
    """Answer the replay endpoint of ``stream`` (``endpoints.DEAD_LETTER_REPLAYS``) with
    ``process``, in the queue group of the stream's consumer."""
    for outcome in ("replayed", "failed", "error"):
        JETSTREAM_DEAD_LETTER_REPLAYS.labels(service_name(), stream, outcome)

    async def handle(request: DeadLetterReplayRequest) -> DeadLetterReplayReply:
        return await dead_letters.replay(stream, request.sequence, process)

    return await bus.serve(
        endpoints.DEAD_LETTER_REPLAYS[stream],
        handle,
        concurrency=1,  # an operator's command: one at a time is plenty
    )
