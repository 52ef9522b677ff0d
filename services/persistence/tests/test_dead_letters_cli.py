"""``switchboard-dead-letters replay`` asks the origin consumer's replay endpoint: a letter it
processes is reported replayed; with no consumer there, the letter is kept and the operator
told that nothing changed."""

import io
import secrets

import pytest
from nats.aio.client import Client
from switchboard_contracts import streams, subjects
from switchboard_contracts.dead_letters import DeadLetterKind, DeadLetterOrigin
from switchboard_devstack.stores import Stores
from switchboard_persistence.dead_letters_cli import run
from switchboard_runtime import Bus
from switchboard_runtime.messaging.dead_letters import DeadLetters, Fault, serve_replays

pytestmark = pytest.mark.component

STREAM = streams.NOTIFY_JOBS.name


async def a_dead_job(nc: Client) -> int:
    origin = DeadLetterOrigin(
        stream=STREAM,
        subject=subjects.NOTIFY_JOB_BROADCAST,
        sequence=secrets.randbelow(2**40) + 1,  # a letter of its own (ids derive from it)
        consumer=streams.NOTIFICATION_BROADCAST_CONSUMER.durable,
        attempts=3,
    )
    return await DeadLetters(nc.jetstream()).store(
        b"a job", None, origin, DeadLetterKind.FAILED, "listing recipients failed"
    )


async def test_a_letter_its_consumer_processes_is_reported_replayed(
    nc: Client, stores: Stores
) -> None:
    processed: list[bytes] = []

    async def process(data: bytes, headers: dict[str, str]) -> Fault | None:
        del headers
        processed.append(data)
        return None

    sequence = await a_dead_job(nc)
    replays = await serve_replays(Bus.attach(nc), DeadLetters(nc.jetstream()), STREAM, process)
    out = io.StringIO()
    try:
        status = await run(["--nats-url", stores.nats_url, "replay", str(sequence)], out)
    finally:
        await replays.unsubscribe()

    assert (status, out.getvalue()) == (0, f"{sequence}\treplayed\n")
    assert processed == [b"a job"]


async def test_with_no_consumer_the_letter_is_kept_and_nothing_changed(
    nc: Client, stores: Stores
) -> None:
    sequence = await a_dead_job(nc)
    out = io.StringIO()

    status = await run(["--nats-url", stores.nats_url, "replay", str(sequence)], out)

    assert status == 1
    assert out.getvalue() == (
        f"{sequence}\tkept\tunavailable: no {STREAM} consumer answered; nothing changed\n"
    )
