"""Which failed writes are about the data, and how a batch is taken apart to find the messages
PostgreSQL refuses. No I/O: ``StreamWriter`` asks, inserts and acts.

A write that fails for a reason about the data (the message holds something the table refuses)
fails again however often it is retried; one that fails for any other reason (PostgreSQL away,
a lost connection, a timeout, a lock) may succeed later. The first kind is isolated: the batch
is split in halves, each inserted on its own, until the failing messages are alone; a lone
message that keeps failing for its data goes to dead letters. The second kind is retried with
the batch unacked, forever: an outage must never empty a stream into dead letters.
"""

import re
from collections import deque
from collections.abc import Callable
from enum import Enum

import asyncpg

__all__ = ["DATA_SQLSTATE_CLASSES", "Isolation", "Step", "data_fault"]

DATA_SQLSTATE_CLASSES = ("22", "23", "54")
"""SQLSTATE classes about the data: 22 data exception (e.g. 22021, a NUL in text; 22003, a
number out of range), 23 integrity constraint violation, 54 program limit exceeded (e.g. an
index row too big). Anything else (08 connection, 53 resources, 57 operator intervention, 40
rollback, ...) is transient."""

_ARGUMENT = re.compile(r"query argument (\$\d+)")


def data_fault(err: BaseException) -> str | None:
    """A short reason when ``err`` is about the data written, None when it is transient.

    The reason names the SQLSTATE or the error's type and the query argument (a column), never
    the value: asyncpg's own messages quote the start of the argument, i.e. message bodies."""
    if isinstance(err, asyncpg.PostgresError):
        sqlstate = getattr(err, "sqlstate", None) or ""
        if sqlstate[:2] not in DATA_SQLSTATE_CLASSES:
            return None
        argument = _ARGUMENT.search(str(err))
        if argument is not None:  # raised by asyncpg while encoding, before PostgreSQL saw it
            cause = err.__cause__
            why = f" ({type(cause).__name__})" if cause is not None else ""
            return f"{type(err).__name__}: cannot encode query argument {argument[1]}{why}"
        return f"PostgreSQL {sqlstate} {type(err).__name__}"
    if isinstance(err, (ValueError, TypeError)):  # UnicodeEncodeError is a ValueError
        return f"{type(err).__name__} while encoding the batch"
    return None


class Step(Enum):
    """What the writer does after a failed insert of a group."""

    RETRY = "retry"
    """Transient: insert the same group again after a pause."""
    SPLIT = "split"
    """About the data, several messages: each half on its own, at once."""
    RETRY_ALONE = "retry alone"
    """About the data, one message, attempts left: again after a pause."""
    DEAD_LETTER = "dead letter"
    """About the data, one message, no attempts left: to dead letters, then ack."""


class Isolation:
    """The groups of one batch still to insert, by index, in order: at first the whole batch.

    ``prior_deliveries(i)``: how often message ``i`` was delivered before this delivery
    (JetStream's ``num_delivered`` - 1), asked only once it fails alone (reading it for every
    message of every batch cost 0.8 µs a message); each counts as one failed attempt, so a
    poison message redelivered after a restart reaches ``max_attempts`` sooner. A message is
    dead-lettered only after failing alone for its data at least once in this delivery."""

    def __init__(
        self, size: int, max_attempts: int, prior_deliveries: Callable[[int], int] | None = None
    ) -> None:
        self._groups: deque[tuple[int, ...]] = deque([tuple(range(size))] if size else [])
        self._prior_deliveries = prior_deliveries or (lambda _: 0)
        self._failures: dict[int, int] = {}
        self._prior: dict[int, int] = {}
        self._max_attempts = max_attempts

    def next(self) -> tuple[int, ...] | None:
        """The group to insert now; None when every message is written or dead-lettered."""
        return self._groups[0] if self._groups else None

    def attempts(self, index: int) -> int:
        """Attempts counted for message ``index``: earlier deliveries and failures alone."""
        if index not in self._prior:
            self._prior[index] = max(0, self._prior_deliveries(index))
        return self._prior[index] + self._failures.get(index, 0)

    def committed(self, group: tuple[int, ...]) -> None:
        self._take(group)

    def failed(self, group: tuple[int, ...], fault: str | None) -> Step:
        """``fault``: ``data_fault`` of the error (None: transient)."""
        if fault is None:
            return Step.RETRY
        if len(group) > 1:
            self._take(group)
            half = len(group) // 2
            self._groups.extendleft([group[half:], group[:half]])  # first half first
            return Step.SPLIT
        [index] = group
        self._failures[index] = self._failures.get(index, 0) + 1
        if self.attempts(index) < self._max_attempts:
            return Step.RETRY_ALONE
        self._take(group)
        return Step.DEAD_LETTER

    def _take(self, group: tuple[int, ...]) -> None:
        if not self._groups or self._groups[0] != group:
            raise ValueError(f"{group} is not the group to insert now")
        self._groups.popleft()
