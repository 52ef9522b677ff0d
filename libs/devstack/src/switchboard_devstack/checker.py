"""A Jepsen-style checker for "an acknowledged message is never lost and never shown twice".

The fault tests record, for every operation (a chat send or a notification), its unique id, the
acknowledgement it got (if any), what was stored in the end, and what each client displayed after
resuming. The checker then demands:

- every acknowledged operation is stored, once, under the id and position it was acked with (a
  broadcast is acked before it has a position: any position will do);
- nothing is stored that nobody sent;
- every stored entry of a stream a client reads was displayed to that client (after resume);
- no client displayed any (stream, position) or id twice.

Pure: no I/O, so it is unit-tested on hand-made histories.
"""

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

__all__ = ["Entry", "Verdict", "check"]


@dataclass(frozen=True)
class Entry:
    """One stored or displayed entry: a chat message (stream = room, position = seq), a
    notification (stream = user, position = cursor) or a broadcast (stream = its audience,
    position = cursor); ``op`` is the sender's unique operation id (the clientMsgId, or a
    unique title)."""

    stream: str
    position: int
    id: str
    op: str


@dataclass
class Verdict:
    lost: list[str] = field(default_factory=list)
    """Acknowledged operations not stored."""
    wrong_ack: list[str] = field(default_factory=list)
    """Operations stored under another id or position than acked, or acked twice differently."""
    stored_twice: list[str] = field(default_factory=list)
    phantom: list[str] = field(default_factory=list)
    """Stored operations nobody sent."""
    missing: dict[str, list[Entry]] = field(default_factory=dict)
    """Per client: stored entries of its streams it never displayed."""
    duplicates: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    """Per client: (stream, position) displayed more than once."""

    @property
    def ok(self) -> bool:
        return not (
            self.lost
            or self.wrong_ack
            or self.stored_twice
            or self.phantom
            or self.missing
            or self.duplicates
        )

    def summary(self) -> str:
        parts = {
            "lost": self.lost,
            "wrong_ack": self.wrong_ack,
            "stored_twice": self.stored_twice,
            "phantom": self.phantom,
            "missing": self.missing,
            "duplicates": self.duplicates,
        }
        return "; ".join(f"{name}: {value}" for name, value in parts.items() if value) or "ok"


def check(
    sent: Iterable[str],
    acks: Mapping[str, Iterable[tuple[str, int | None]]],
    stored: Iterable[Entry],
    displayed: Mapping[str, Iterable[Entry]],
    reads: Mapping[str, Iterable[str]],
) -> Verdict:
    """``sent``: every operation id attempted; ``acks``: per operation, every (id, position) it
    was acknowledged with (a retry acks again; position None: acked before it had one);
    ``stored``: what the system holds at the end; ``displayed``: per client, what it showed, in
    order; ``reads``: per client, its streams."""
    verdict = Verdict()
    sent_ops = set(sent)
    stored_list = list(stored)
    by_op: dict[str, Entry] = {}
    for op, count in Counter(e.op for e in stored_list).items():
        if count > 1:
            verdict.stored_twice.append(op)
    for entry in stored_list:
        by_op.setdefault(entry.op, entry)
        if entry.op not in sent_ops:
            verdict.phantom.append(entry.op)
    for op, acked in acks.items():
        answers = set(acked)
        if not answers:
            continue
        found = by_op.get(op)
        if found is None:
            verdict.lost.append(op)
        elif {(i, found.position if p is None else p) for i, p in answers} != {
            (found.id, found.position)
        }:
            verdict.wrong_ack.append(op)
    for client, shown in displayed.items():
        shown_list = list(shown)
        repeated = [
            k for k, n in Counter((e.stream, e.position) for e in shown_list).items() if n > 1
        ]
        repeated_ids = {e.id for e in shown_list if Counter(x.id for x in shown_list)[e.id] > 1}
        repeated += [(e.stream, e.position) for e in shown_list if e.id in repeated_ids]
        if repeated:
            verdict.duplicates[client] = sorted(set(repeated))
        streams = set(reads.get(client, ()))
        seen = {e.id for e in shown_list}
        missed = [e for e in stored_list if e.stream in streams and e.id not in seen]
        if missed:
            verdict.missing[client] = missed
    return verdict
