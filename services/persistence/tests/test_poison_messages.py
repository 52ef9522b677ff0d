"""A poison message never blocks persistence's durable consumers: on a real NATS and PostgreSQL,
messages PostgreSQL refuses and undecodable ones, injected straight into CHAT and NOTIFY among
good ones, land in DEAD_LETTERS with their reason while everything else is stored; PostgreSQL
away for a while dead-letters nothing; and the operator command lists and replays them."""

import asyncio
import contextlib
import io
import json
import secrets
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import nats
import pytest
from nats.aio.client import Client
from nats.js.api import RawStreamMsg
from nats.js.errors import NotFoundError
from prometheus_client import REGISTRY
from switchboard_contracts import ChatMessage, streams, subjects
from switchboard_contracts.dead_letters import (
    ATTEMPTS_HEADER,
    KIND_HEADER,
    REASON_HEADER,
    SEQUENCE_HEADER,
    STREAM_HEADER,
    SUBJECT_HEADER,
)
from switchboard_contracts.notify import Notification, NotificationType, at_position
from switchboard_devstack.polling import until
from switchboard_devstack.stores import Stores
from switchboard_persistence.chat_store import ChatStore
from switchboard_persistence.dead_letters_cli import list_dead_letters, run
from switchboard_persistence.notify_store import NotifyStore
from switchboard_persistence.stream_writer import StreamWriter
from switchboard_runtime import Bus, ensure_stream
from switchboard_runtime.messaging.dead_letters import DeadLetters, serve_replays
from switchboard_runtime.telemetry.metrics import service_name

pytestmark = pytest.mark.component

WAIT = 20.0
NUL = "\u0000"


@pytest.fixture
async def nc(stores: Stores) -> AsyncIterator[Client]:
    client = await nats.connect(stores.nats_url)
    js = client.jetstream()
    await ensure_stream(js, streams.CHAT)
    await ensure_stream(js, streams.NOTIFY)
    yield client
    await client.close()


def dead_count(stream: str, kind: str) -> float:
    value = REGISTRY.get_sample_value(
        "switchboard_jetstream_dead_letters_total",
        {"service": service_name(), "stream": stream, "kind": kind},
    )
    return value or 0.0


async def letters_of(
    nc: Client, stream: str, origin_sequences: set[int]
) -> dict[int, RawStreamMsg]:
    """The dead letters of these origin messages, by origin sequence: raw stream messages."""
    js = nc.jetstream()
    found: dict[int, RawStreamMsg] = {}
    sequence = 1
    while True:
        try:
            raw = await js.get_msg(
                streams.DEAD_LETTERS.name,
                seq=sequence,
                subject=subjects.dead_letter(stream),
                next=True,
            )
        except NotFoundError:
            return found
        assert raw.seq is not None
        sequence = raw.seq + 1
        origin = int((raw.headers or {})[SEQUENCE_HEADER])
        if origin in origin_sequences:
            found[origin] = raw


@contextlib.asynccontextmanager
async def running(
    writer: StreamWriter[ChatMessage] | StreamWriter[Notification],
) -> AsyncIterator[None]:
    task = asyncio.create_task(writer.run())
    try:
        yield
    finally:
        writer.stop()
        await asyncio.wait_for(task, timeout=WAIT)


def chat(room: str, seq: int, **fields: object) -> ChatMessage:
    return ChatMessage.model_validate(
        {
            "id": f"{room}-{seq}",
            "room": room,
            "seq": seq,
            "sender_id": "alice",
            "content": f"message {seq}",
            "timestamp": seq,
            **fields,
        }
    )


def poisoned(room: str, seq: int, **fields: object) -> bytes:
    """A chat message as only a bug or a hostile writer could publish it (JSON as is, past the
    model's own checks: a NUL, a timestamp beyond bigint)."""
    return json.dumps(
        {
            "id": f"{room}-{seq}",
            "room": room,
            "seq": seq,
            "sender_id": "alice",
            "content": f"message {seq}",
            "timestamp": seq,
            **fields,
        }
    ).encode()


class LaxChatMessage(ChatMessage):
    """A decoder without the input rule (an older persistence, or a bug in the rule): what it
    lets through reaches PostgreSQL, which refuses it itself."""

    timestamp: int  # no int64 bound

    @classmethod
    def decode(cls, data: bytes) -> "LaxChatMessage":
        return cls.model_validate_json(data)


async def inject_chat_poison(
    nc: Client, pool: asyncpg.Pool, model: type[ChatMessage], expected: dict[int, str]
) -> None:
    """Good messages around a NUL, a bigint overflow and bytes that are not a message: the
    poison lands in DEAD_LETTERS with ``expected`` kind (by its position), the rest is stored."""
    js = nc.jetstream()
    room = f"poison-{secrets.token_hex(4)}"
    subject = subjects.chat_room(room)
    before = {kind: dead_count("CHAT", kind) for kind in ("rejected", "undecodable")}
    # Published straight to the stream, as nothing but a bug or a hostile writer could.
    payloads: list[bytes] = [
        chat(room, 1).encode(),
        poisoned(room, 2, sender_name=f"eve{NUL}"),  # PostgreSQL: 22P05 (in JSON)
        chat(room, 3).encode(),
        poisoned(room, 4, timestamp=2**63),  # beyond bigint
        b'{"id": "not a chat message"',  # undecodable
        chat(room, 6).encode(),
    ]
    sequences = [
        (await js.publish(subject, body, headers={"traceparent": "x"})).seq for body in payloads
    ]
    poison = {sequences[index]: kind for index, kind in expected.items()}

    store = ChatStore(pool)
    writer = StreamWriter(
        nc,
        streams.PERSISTENCE_CHAT_CONSUMER,
        model,
        store.insert,
        100,
        table="chat_messages",
        max_attempts=2,
        retry_delay=0.05,
    )
    async with running(writer):
        for seq in range(7, 10):  # after the poison: taken on
            await js.publish(subject, chat(room, seq).encode())

        async def all_stored() -> bool:
            page, _ = await store.page(room, None, 100)
            return len(page) == 6

        await until(all_stored, "the good messages stored", timeout=WAIT)

        async def all_dead() -> bool:
            return len(await letters_of(nc, "CHAT", set(poison))) == 3

        await until(all_dead, "three dead letters", timeout=WAIT)
    page, _ = await store.page(room, None, 100)
    assert sorted(m.seq for m in page) == [1, 3, 6, 7, 8, 9]
    letters = await letters_of(nc, "CHAT", set(poison))
    for origin, kind in poison.items():
        raw = letters[origin]
        headers = raw.headers or {}
        assert raw.data == payloads[sequences.index(origin)]
        assert headers[STREAM_HEADER] == "CHAT"
        assert headers[SUBJECT_HEADER] == subject
        assert headers[KIND_HEADER] == kind
        assert headers["traceparent"] == "x"
        assert NUL not in headers[REASON_HEADER]
        assert "alice" not in headers[REASON_HEADER]  # never the body
        assert headers[ATTEMPTS_HEADER] == ("2" if kind == "rejected" else "1")
    reasons = {
        index: (letters[sequences[index]].headers or {})[REASON_HEADER] for index in expected
    }
    if expected[1] == "rejected":
        assert reasons[1] == "PostgreSQL 22P05 UntranslatableCharacterError"
        assert reasons[3] == "PostgreSQL 22003 NumericValueOutOfRangeError"
    else:
        assert reasons[1] == "invalid message: <root>: input_rule"  # no NUL, never the body
        assert reasons[3].startswith("invalid message:")
    assert reasons[4].startswith("invalid message:")
    kinds = list(expected.values())
    for kind in ("rejected", "undecodable"):
        assert dead_count("CHAT", kind) - before[kind] == kinds.count(kind)
    info = await js.consumer_info(streams.CHAT.name, streams.PERSISTENCE_CHAT_CONSUMER.durable)
    assert info.num_ack_pending == 0  # every message acked, the poison after its dead letter


async def test_chat_messages_that_break_the_input_rule_go_to_dead_letters_on_decode(
    nc: Client, pool: asyncpg.Pool
) -> None:
    """The bus's input rule refuses them before PostgreSQL sees them."""
    await inject_chat_poison(
        nc, pool, ChatMessage, {1: "undecodable", 3: "undecodable", 4: "undecodable"}
    )


async def test_chat_messages_postgresql_refuses_go_to_dead_letters_and_the_rest_is_stored(
    nc: Client, pool: asyncpg.Pool
) -> None:
    """Past a decoder that lets them through, PostgreSQL's own refusal isolates them too."""
    await inject_chat_poison(
        nc, pool, LaxChatMessage, {1: "rejected", 3: "rejected", 4: "undecodable"}
    )


def notification(user: str, n: int, title: str = "hello") -> Notification:
    """As notification publishes it: without a cursor (the writer gives it its position)."""
    return Notification(
        id=f"{user}-{n}",
        user_id=user,
        cursor=0,
        type=NotificationType.INFO,
        title=title,
        message="m",
        timestamp=n,
    )


def notify_writer(nc: Client, store: NotifyStore, max_attempts: int) -> StreamWriter[Notification]:
    return StreamWriter(
        nc,
        streams.PERSISTENCE_NOTIFY_CONSUMER,
        Notification,
        store.insert,
        100,
        table="notifications",
        max_attempts=max_attempts,
        retry_delay=0.05,
        at_sequence=at_position,
    )


async def test_poisoned_notifications_go_to_dead_letters_and_the_rest_is_stored(
    nc: Client, pool: asyncpg.Pool
) -> None:
    js = nc.jetstream()
    user = f"poison-{secrets.token_hex(4)}"
    subject = subjects.notify_user(user)
    before = {kind: dead_count("NOTIFY", kind) for kind in ("rejected", "undecodable")}
    payloads = [
        notification(user, 1).encode(),
        notification(user, 2, title=f"bad{NUL}title").encode(),
        b"\xff\xfe not even UTF-8",
        notification(user, 4).encode(),
    ]
    sequences = [(await js.publish(subject, body)).seq for body in payloads]
    # A NUL breaks the bus's input rule: refused on decode, before PostgreSQL would.
    poison = {sequences[1]: "undecodable", sequences[2]: "undecodable"}
    store = NotifyStore(pool)
    async with running(notify_writer(nc, store, 3)):
        last = await js.publish(subject, notification(user, 5).encode())

        async def all_stored() -> bool:
            return await store.count_from(user, 0) == 3

        await until(all_stored, "the good notifications stored", timeout=WAIT)

        async def all_dead() -> bool:
            return len(await letters_of(nc, "NOTIFY", set(poison))) == 2

        await until(all_dead, "two dead letters", timeout=WAIT)
    page = await store.replay(user, 0, 10)
    # each at its stream position
    assert [n.cursor for n in page.notifications] == [sequences[0], sequences[3], last.seq]
    letters = await letters_of(nc, "NOTIFY", set(poison))
    for origin, kind in poison.items():
        raw = letters[origin]
        assert raw.data == payloads[sequences.index(origin)]
        assert (raw.headers or {})[KIND_HEADER] == kind
    assert dead_count("NOTIFY", "rejected") - before["rejected"] == 0
    assert dead_count("NOTIFY", "undecodable") - before["undecodable"] == 2


class CuttableProxy:
    """A TCP proxy to PostgreSQL that can be cut (connections dropped, new ones refused) and
    restored on the same port: PostgreSQL away, as a client sees it."""

    def __init__(self, host: str, port: int) -> None:
        self._upstream = (host, port)
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for pipe in list(self._pipes):
            pipe.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self._upstream)

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.IncompleteReadError):
                while chunk := await source.read(65536):
                    sink.write(chunk)
                    await sink.drain()

        pipes = [
            asyncio.create_task(pipe(reader, up_writer)),
            asyncio.create_task(pipe(up_reader, writer)),
        ]
        self._pipes.update(pipes)
        try:
            await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in pipes:
                task.cancel()
                self._pipes.discard(task)
            for stream in (writer, up_writer):
                stream.close()


async def test_postgresql_away_for_a_while_dead_letters_nothing_and_loses_nothing(
    nc: Client, pool: asyncpg.Pool, stores: Stores
) -> None:
    del pool  # migrated
    url = urlsplit(stores.database_url)
    proxy = CuttableProxy(url.hostname or "127.0.0.1", url.port or 5432)
    await proxy.start()
    netloc = url.netloc.rsplit("@", 1)
    proxied = urlunsplit(
        url._replace(
            netloc=(netloc[0] + "@" if len(netloc) == 2 else "") + f"127.0.0.1:{proxy.port}"
        )
    )
    away = await asyncpg.create_pool(proxied, min_size=1, max_size=2)
    js = nc.jetstream()
    user = f"outage-{secrets.token_hex(4)}"
    before = sum(dead_count("NOTIFY", kind) for kind in ("rejected", "undecodable"))
    errors_before = (
        REGISTRY.get_sample_value(
            "switchboard_persistence_write_errors_total", {"table": "notifications"}
        )
        or 0.0
    )
    store = NotifyStore(away)
    try:
        # A single failure about the data would dead-letter: an outage must make none.
        async with running(notify_writer(nc, store, 1)):
            await proxy.cut()
            for n in range(1, 31):
                await js.publish(subjects.notify_user(user), notification(user, n).encode())

            async def retried_a_while() -> bool:
                errors = REGISTRY.get_sample_value(
                    "switchboard_persistence_write_errors_total", {"table": "notifications"}
                )
                return (errors or 0.0) - errors_before >= 5

            await until(
                retried_a_while, "five failed writes while PostgreSQL is away", timeout=WAIT
            )
            await proxy.start()  # back on the same port

            async def all_stored() -> bool:
                return await store.count_from(user, 0) == 30

            back = "every notification stored once PostgreSQL is back"
            await until(all_stored, back, timeout=WAIT)
    finally:
        await proxy.cut()
        away.terminate()
    assert sum(dead_count("NOTIFY", kind) for kind in ("rejected", "undecodable")) == before


async def test_the_operator_lists_dead_letters_and_replays_them(
    nc: Client, pool: asyncpg.Pool, stores: Stores
) -> None:
    """A message refused for its data (a check PostgreSQL made, here a fake insert that refuses
    it until the operator "fixes" the cause) is replayed into the store; one that is still
    poison goes back to dead letters with its new reason."""
    js = nc.jetstream()
    room = f"replay-{secrets.token_hex(4)}"
    subject = subjects.chat_room(room)
    store = ChatStore(pool)
    refusing = {"on": True}

    async def insert(messages: list[ChatMessage]) -> None:
        if refusing["on"] and any(m.content == "fixable" for m in messages):
            raise asyncpg.CheckViolationError("new row violates check constraint")
        await store.insert(messages)

    writer = StreamWriter(
        nc,
        streams.PERSISTENCE_CHAT_CONSUMER,
        ChatMessage,
        insert,
        100,
        table="chat_messages",
        max_attempts=1,
        retry_delay=0.05,
    )
    fixable = (await js.publish(subject, chat(room, 1, content="fixable").encode())).seq
    poison = (await js.publish(subject, chat(room, 2, sender_name=NUL).encode())).seq
    await js.publish(subject, chat(room, 3).encode())
    replays = await serve_replays(Bus.attach(nc), DeadLetters(js), "CHAT", writer.process_again)
    try:
        async with running(writer):

            async def both_dead() -> bool:
                return len(await letters_of(nc, "CHAT", {fixable, poison})) == 2

            await until(both_dead, "two dead letters", timeout=WAIT)
        letters = await letters_of(nc, "CHAT", {fixable, poison})
        fixable_letter = letters[fixable].seq or 0
        poison_letter = letters[poison].seq or 0

        out = io.StringIO()
        assert await run(["--nats-url", stores.nats_url, "list", "--stream", "CHAT"], out) == 0
        listed = {line.split("\t")[0]: line.split("\t") for line in out.getvalue().splitlines()}
        assert listed["SEQ"][1:] == [
            "STORED",
            "STREAM",
            "SUBJECT",
            "ORIGIN_SEQ",
            "ATTEMPTS",
            "KIND",
            "REASON",
        ]
        assert listed[str(fixable_letter)][2:] == [
            "CHAT",
            subject,
            str(fixable),
            "1",
            "rejected",
            "PostgreSQL 23514 CheckViolationError",
        ]
        # A NUL breaks the bus's input rule: refused on decode, before PostgreSQL would.
        assert listed[str(poison_letter)][7] == "invalid message: <root>: input_rule"
        assert "fixable" not in out.getvalue()  # never a body

        refusing["on"] = False  # the operator fixed the cause
        out = io.StringIO()
        args = ["--nats-url", stores.nats_url, "replay", str(fixable_letter), str(poison_letter)]
        assert await run(args, out) == 1  # one of them failed again
        lines = out.getvalue().splitlines()
        assert lines[0] == f"{fixable_letter}\treplayed"
        assert lines[1].startswith(f"{poison_letter}\tfailed again, now ")
        page, _ = await store.page(room, None, 10)
        assert sorted(m.seq for m in page) == [1, 3]

        remaining = {
            letter.origin.sequence: letter
            for letter in await list_dead_letters(nc, "CHAT")
            if letter.origin.sequence in {fixable, poison}
        }
        assert set(remaining) == {poison}  # the replayed one is gone
        again = remaining[poison]
        assert again.sequence > poison_letter  # stored anew, the old one removed
        assert (again.origin.attempts, again.kind.value) == (2, "undecodable")
        with pytest.raises(NotFoundError):
            await js.get_msg(streams.DEAD_LETTERS.name, seq=poison_letter)
        raw = await js.get_msg(streams.DEAD_LETTERS.name, seq=again.sequence)
        assert raw.data == chat(room, 2, sender_name=NUL).encode()

        out = io.StringIO()
        assert await run(["--nats-url", stores.nats_url, "replay", str(fixable_letter)], out) == 1
        assert (
            out.getvalue()
            == f"{fixable_letter}\tkept\tnot_found: no dead letter {fixable_letter}\n"
        )
    finally:
        await replays.unsubscribe()
