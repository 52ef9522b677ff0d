"""Dead letters: how a message a durable consumer could not process is kept in DEAD_LETTERS.

A dead letter is the original message's bytes, unchanged, on ``subjects.dead_letter(<origin
stream>)``, with the original headers and headers of ours saying where it came from and why it
is there. The original's ``Nats-*`` headers are kept under ``Switchboard-Original-<name>``:
JetStream would act on them (``Nats-Msg-Id`` deduplicates, ``Nats-Expected-*`` would refuse the
publish). The reason is a short line written by the consumer, never the message body.

Replay: ``subjects.dead_letter_replay(<origin stream>)`` asks the service that consumes the
origin stream to process the dead letter at ``sequence`` again with its own code path.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from switchboard_contracts.errors import BusError
from switchboard_contracts.message import BusMessage

__all__ = [
    "ATTEMPTS_HEADER",
    "BODY_LEFT_HEADER",
    "CONSUMER_HEADER",
    "KIND_HEADER",
    "MAX_REASON_LENGTH",
    "ORIGINAL_PREFIX",
    "REASON_HEADER",
    "SEQUENCE_HEADER",
    "STREAM_HEADER",
    "SUBJECT_HEADER",
    "DeadLetterKind",
    "DeadLetterOrigin",
    "DeadLetterReplayReply",
    "DeadLetterReplayRequest",
    "dead_letter_headers",
    "dead_letter_id",
    "original_headers",
    "read_origin",
    "short_reason",
]

_PREFIX = "Switchboard-Dead-Letter-"
STREAM_HEADER = _PREFIX + "Stream"
SUBJECT_HEADER = _PREFIX + "Subject"
SEQUENCE_HEADER = _PREFIX + "Sequence"
CONSUMER_HEADER = _PREFIX + "Consumer"
ATTEMPTS_HEADER = _PREFIX + "Attempts"
KIND_HEADER = _PREFIX + "Kind"
REASON_HEADER = _PREFIX + "Reason"
BODY_LEFT_HEADER = _PREFIX + "Body-Left"
"""Set (to the body's size in bytes) on a letter whose original was too large to be stored again
with the dead-letter headers: its body is read from the origin stream at the origin sequence."""
ORIGINAL_PREFIX = "Switchboard-Original-"
"""An original ``Nats-*`` header ``H`` is kept as ``Switchboard-Original-H``."""

MAX_REASON_LENGTH = 200


class DeadLetterKind(StrEnum):
    """Why a message is a dead letter (the metric's ``kind`` label)."""

    UNDECODABLE = "undecodable"
    """Not a valid message of the stream's schema: dead-lettered at once."""
    REJECTED = "rejected"
    """The store refused its data (PostgreSQL: data exception, integrity, program limit; or the
    driver could not encode it), every attempt, alone."""
    FAILED = "failed"
    """Processing it failed, not for a transient reason, on every delivery (broadcast jobs)."""


@dataclass(frozen=True)
class DeadLetterOrigin:
    """Where a dead letter came from: its stream, subject and stream sequence, the durable
    consumer that gave up and how many times it was tried."""

    stream: str
    subject: str
    sequence: int
    consumer: str
    attempts: int


_SPACES = re.compile(r"\s+")


def short_reason(text: str) -> str:
    """One line of at most ``MAX_REASON_LENGTH`` printable characters: a header value."""
    line = _SPACES.sub(" ", "".join(c if c.isprintable() else " " for c in text)).strip()
    if len(line) > MAX_REASON_LENGTH:
        line = line[: MAX_REASON_LENGTH - 3] + "..."
    return line or "unknown"


def dead_letter_headers(
    original: Mapping[str, str] | None,
    origin: DeadLetterOrigin,
    kind: DeadLetterKind,
    reason: str,
    *,
    message_id: str,
) -> dict[str, str]:
    """The headers a dead letter is published with: the original's (its ``Nats-*`` ones
    renamed, any earlier dead-letter headers dropped), the origin, kind and reason, and
    ``Nats-Msg-Id`` = ``message_id`` (``dead_letter_id``)."""
    headers = {
        (ORIGINAL_PREFIX + name if name.startswith("Nats-") else name): value
        for name, value in (original or {}).items()
        if not name.startswith(_PREFIX)
    }
    headers.update(
        {
            STREAM_HEADER: origin.stream,
            SUBJECT_HEADER: origin.subject,
            SEQUENCE_HEADER: str(origin.sequence),
            CONSUMER_HEADER: origin.consumer,
            ATTEMPTS_HEADER: str(origin.attempts),
            KIND_HEADER: kind.value,
            REASON_HEADER: short_reason(reason),
            "Nats-Msg-Id": message_id,
        }
    )
    return headers


def dead_letter_id(origin: DeadLetterOrigin, replay_of: int | None = None) -> str:
    """The dead letter's ``Nats-Msg-Id``: the same for the same original (a publish retried, or
    the original dead-lettered again after a crash before its ack, within the duplicate window,
    is stored once); a replay that fails again names the dead letter it replaces."""
    base = f"{origin.stream}-{origin.sequence}"
    return base if replay_of is None else f"{base}-replay-{replay_of}"


def original_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    """The original message's headers, as it was in its own stream."""
    restored: dict[str, str] = {}
    for name, value in (headers or {}).items():
        if name.startswith((_PREFIX, "Nats-")):
            continue
        restored[name.removeprefix(ORIGINAL_PREFIX)] = value
    return restored


def read_origin(headers: Mapping[str, str] | None) -> tuple[DeadLetterOrigin, DeadLetterKind, str]:
    """The origin, kind and reason a dead letter's headers carry; ValueError when they do not."""
    found = headers or {}
    try:
        origin = DeadLetterOrigin(
            stream=found[STREAM_HEADER],
            subject=found[SUBJECT_HEADER],
            sequence=int(found[SEQUENCE_HEADER]),
            consumer=found[CONSUMER_HEADER],
            attempts=int(found[ATTEMPTS_HEADER]),
        )
        return origin, DeadLetterKind(found[KIND_HEADER]), found[REASON_HEADER]
    except (KeyError, ValueError) as err:
        raise ValueError(f"not a dead letter: {err!r}") from err


class DeadLetterReplayRequest(BusMessage):
    """operator -> the origin stream's consumer (``ops.dead-letter.replay.<stream>``): process
    the dead letter at DEAD_LETTERS sequence ``sequence`` again."""

    sequence: int


class DeadLetterReplayReply(BusMessage):
    """``replayed``: processed, and removed from DEAD_LETTERS. Otherwise, with ``reason``: it
    failed again and went back to dead letters as ``sequence`` (the old one removed); with
    ``error``: nothing changed (not found, not of this stream, the store unavailable)."""

    replayed: bool = False
    reason: str | None = None
    sequence: int | None = None
    error: BusError | None = None
