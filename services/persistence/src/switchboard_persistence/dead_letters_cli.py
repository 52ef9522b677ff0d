"""``switchboard-dead-letters``: list the DEAD_LETTERS stream and replay its letters.

    switchboard-dead-letters list [--stream CHAT|NOTIFY|NOTIFY_JOBS] [--limit N]
    switchboard-dead-letters replay SEQ [SEQ ...]
    switchboard-dead-letters replay --all [--stream X]

Needs only NATS (``NATS_URL`` or ``--nats-url``). ``list`` reads the stream directly and prints
one line per letter: where it came from, how often it was tried, why it is there; never a
message body. ``replay`` asks the service that consumes the letter's origin stream
(persistence for CHAT and NOTIFY, notification for NOTIFY_JOBS) to process it again with the
same code as the first time (``endpoints.DEAD_LETTER_REPLAYS``): a CHAT message is written to
PostgreSQL, never published to ``chat.room.<room>`` again (that would break the room's
gap-free ``seq``). On success the letter is removed; when it fails again for its data it goes
back to dead letters with the new reason (a new sequence); any other failure leaves it as it was.
Exit status: 0 when everything asked for was replayed (or listed), 1 otherwise, 2 for usage.
"""

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

import nats
from nats.aio.client import Client
from nats.js.errors import NotFoundError
from switchboard_contracts import endpoints, streams, subjects
from switchboard_contracts.dead_letters import (
    DeadLetterKind,
    DeadLetterOrigin,
    DeadLetterReplayReply,
    DeadLetterReplayRequest,
    read_origin,
)
from switchboard_runtime import Bus, BusUnavailableError

__all__ = ["DeadLetter", "list_dead_letters", "main", "replay", "run"]

ORIGIN_STREAMS = (streams.CHAT.name, streams.NOTIFY.name, streams.NOTIFY_JOBS.name)


@dataclass(frozen=True)
class DeadLetter:
    sequence: int
    stored_at: str
    origin: DeadLetterOrigin
    kind: DeadLetterKind
    reason: str

    def line(self) -> str:
        o = self.origin
        return (
            f"{self.sequence}\t{self.stored_at}\t{o.stream}\t{o.subject}\t{o.sequence}"
            f"\t{o.attempts}\t{self.kind.value}\t{self.reason}"
        )


HEADER_LINE = "SEQ\tSTORED\tSTREAM\tSUBJECT\tORIGIN_SEQ\tATTEMPTS\tKIND\tREASON"


async def list_dead_letters(
    nc: Client, stream: str | None = None, limit: int | None = None
) -> list[DeadLetter]:
    """The dead letters, oldest first, of one origin stream or all."""
    js = nc.jetstream()
    wanted = subjects.dead_letter(stream) if stream else subjects.DEAD_LETTERS_ALL
    found: list[DeadLetter] = []
    sequence = 1
    while limit is None or len(found) < limit:
        try:
            raw = await js.get_msg(
                streams.DEAD_LETTERS.name, seq=sequence, subject=wanted, next=True
            )
        except NotFoundError:
            break
        assert raw.seq is not None
        sequence = raw.seq + 1
        try:
            origin, kind, reason = read_origin(raw.headers)
        except ValueError:
            continue  # not ours: nothing to show
        stored = raw.time.strftime("%Y-%m-%dT%H:%M:%SZ") if raw.time else "?"
        found.append(DeadLetter(raw.seq, stored, origin, kind, reason))
    return found


async def replay(nc: Client, sequence: int, timeout: float) -> DeadLetterReplayReply:
    """Ask the letter's origin consumer to process it again."""
    js = nc.jetstream()
    try:
        raw = await js.get_msg(streams.DEAD_LETTERS.name, seq=sequence)
        origin, _, _ = read_origin(raw.headers)
    except (NotFoundError, ValueError):
        return _error("not_found", f"no dead letter {sequence}")
    unanswered = _error("unavailable", f"no {origin.stream} consumer answered; nothing changed")
    endpoint = endpoints.DEAD_LETTER_REPLAYS.get(origin.stream)
    if endpoint is None:  # a stream whose consumer does not replay
        return unanswered
    try:
        return await Bus.attach(nc, "switchboard-dead-letters").ask(
            endpoint,
            DeadLetterReplayRequest(sequence=sequence),
            timeout=timeout,
            raise_unanswered=True,
        )
    except BusUnavailableError:
        return unanswered


def _error(code: str, message: str) -> DeadLetterReplayReply:
    return DeadLetterReplayReply.model_validate({"error": {"code": code, "message": message}})


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="switchboard-dead-letters",
        description="List and replay the messages Switchboard's consumers could not process.",
    )
    parser.add_argument("--nats-url", default=os.environ.get("NATS_URL", "nats://127.0.0.1:4222"))
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per replay")
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="one line per dead letter, oldest first")
    listing.add_argument("--stream", choices=ORIGIN_STREAMS)
    listing.add_argument("--limit", type=int)
    replaying = commands.add_parser("replay", help="process dead letters again")
    replaying.add_argument("sequences", nargs="*", type=int, metavar="SEQ")
    replaying.add_argument("--all", action="store_true", help="every dead letter (of --stream)")
    replaying.add_argument("--stream", choices=ORIGIN_STREAMS)
    return parser


async def run(argv: Sequence[str], out: TextIO) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "replay" and bool(args.sequences) == bool(args.all):
        parser.print_usage(sys.stderr)
        print("replay: give sequences or --all", file=sys.stderr)
        return 2
    nc = await nats.connect(args.nats_url, connect_timeout=5, max_reconnect_attempts=0)
    try:
        if args.command == "list":
            letters = await list_dead_letters(nc, args.stream, args.limit)
            print(HEADER_LINE, file=out)
            for letter in letters:
                print(letter.line(), file=out)
            return 0
        sequences = args.sequences or [
            letter.sequence for letter in await list_dead_letters(nc, args.stream)
        ]
        failed = 0
        for sequence in sequences:
            reply = await replay(nc, sequence, args.timeout)
            if reply.replayed:
                print(f"{sequence}\treplayed", file=out)
                continue
            failed += 1
            if reply.error is not None:
                print(
                    f"{sequence}\tkept\t{reply.error.code.value}: {reply.error.message}", file=out
                )
            else:
                print(f"{sequence}\tfailed again, now {reply.sequence}\t{reply.reason}", file=out)
        return 1 if failed else 0
    finally:
        await nc.close()


def main() -> None:
    sys.exit(asyncio.run(run(sys.argv[1:], sys.stdout)))


if __name__ == "__main__":
    main()
