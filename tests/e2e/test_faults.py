"""Kill anything, lose nothing: faults under chat and notification load, checked Jepsen-style.

A stack of its own (two gateways, two chat instances, persistence, notification) on a NATS and a
PostgreSQL of its own, so that they can be killed and restarted on the same store. Clients are
``switchboard_client`` connections that move between the gateways. At the end the checker demands
acked ⊆ stored ⊆ displayed-after-resume and nothing displayed twice. Each test waits for recovery
at most its fault's bound, as stated in docs/reliability.md.
"""

import asyncio
import contextlib
import itertools
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import asyncpg
import httpx
import nats
import pytest
from switchboard_client import ChatConnection, NotificationStream
from switchboard_client.cursors import RoomCursors
from switchboard_contracts.streams import PERSISTENCE_CHAT_CONSUMER
from switchboard_devstack import NatsServer, PostgresServer, Stack
from switchboard_devstack.chatframes import presence_of
from switchboard_devstack.checker import Entry, Verdict, check
from switchboard_devstack.fixtures import ARTIFACTS
from switchboard_devstack.scrape import by_transport
from switchboard_devstack.stack import ServiceHandle
from switchboard_devstack.stalled_reader import StalledSseReader
from switchboard_devstack.stores import scratch_dir
from switchboard_devstack.tcp_proxy import DelayProxy
from switchboard_devstack.wsclient import FrameClient, SlowReader
from switchboard_persistence.settings import PersistenceSettings

pytestmark = [pytest.mark.e2e, pytest.mark.fault]

LOG_DIR = ARTIFACTS / "e2e-faults"
GATEWAYS = ("gateway", "gateway-2")
SSE_STALL_SECONDS = 3
SLOW_CLIENTS = "switchboard_gateway_slow_client_disconnects_total"
_PERSISTENCE_DEFAULTS = PersistenceSettings.model_fields
WRITES_IN_FLIGHT = int(_PERSISTENCE_DEFAULTS["write_batch_size"].default) * int(
    _PERSISTENCE_DEFAULTS["write_concurrency"].default
)
# Fast fault detection between the services and NATS (see docs/reliability.md).
SERVICE_ENV = {
    "LOG_LEVEL": "INFO",
    "NATS_PING_INTERVAL_SECONDS": "1",
    "NATS_MAX_OUTSTANDING_PINGS": "2",
    "NATS_RECONNECT_WAIT_SECONDS": "0.25",
    # Stopping at the end of the module need not wait for the production default.
    "SHUTDOWN_TIMEOUT_SECONDS": "3",
    # A stalled SSE reader is cut off after this long blocked (production: 30 s).
    "SSE_WRITE_TIMEOUT_SECONDS": str(SSE_STALL_SECONDS),
    # A stalled WebSocket reader is cut off (1013) after this many frames queued (production:
    # 1000), and one writer may flood it quickly.
    "OUTBOX_FRAMES": "200",
    "CLIENT_FRAMES_PER_SECOND": "1000",
    "CLIENT_FRAME_BURST": "1000",
    "USER_FRAMES_PER_SECOND": "10000",
    "USER_FRAME_BURST": "10000",
}


@dataclass
class Faulty:
    stack: Stack
    nats: NatsServer
    postgres: PostgresServer
    database_url: str

    def heal(self) -> None:
        """Everything running and ready again (a failed test may have left a part down)."""
        for server in (self.nats, self.postgres):
            if not server.running():
                server.start()
        for handle in self.stack.services.values():
            if not handle.process.running():
                handle.start()
        for handle in self.stack.services.values():
            handle.wait_ready()


@pytest.fixture(scope="module")
def faulty() -> Iterator[Faulty]:
    nats = NatsServer(scratch_dir("sb-fault-nats-"), log_file=LOG_DIR / "nats.log")
    postgres = PostgresServer(scratch_dir("sb-fault-pg-") / "data", log_file=LOG_DIR / "pg.log")
    nats.start()
    try:
        postgres.start()
        try:
            postgres.create_database("switchboard")
            database_url = postgres.dsn("switchboard")
            stack = Stack(nats.url, database_url, log_dir=LOG_DIR, env=SERVICE_ENV)
            stack.add("persistence")
            stack.add("chat")
            stack.add("chat", label="chat-2")
            stack.add("notification")
            for label in GATEWAYS:
                stack.add("gateway", label=label)
            try:
                stack.start()
                yield Faulty(stack, nats, postgres, database_url)
            finally:
                for handle in stack.services.values():  # how they stop is not under test here
                    handle.kill()
        finally:
            postgres.stop()
    finally:
        nats.stop()


@pytest.fixture
def system(faulty: Faulty) -> Faulty:
    faulty.heal()
    return faulty


def rotating(urls: list[str], start: int) -> Callable[[], str]:
    """A client's gateway for each connect: its own first, the other one after a failure."""
    counter = itertools.count(start)
    return lambda: urls[next(counter) % len(urls)]


@dataclass
class Load:
    """Chat writers and readers in a few rooms, notifications to a few users over SSE, and
    broadcasts to everyone (stored once, shown to every one of those users)."""

    system: Faulty
    rooms: list[str] = field(default_factory=lambda: [f"fault-{secrets.token_hex(3)}"])
    writers: int = 3
    readers: int = 2
    users: list[str] = field(default_factory=lambda: [f"nu-{secrets.token_hex(3)}"])
    chats: list[ChatConnection] = field(default_factory=list)
    streams: list[NotificationStream] = field(default_factory=list)
    chat_sent: list[str] = field(default_factory=list)
    notes_sent: list[str] = field(default_factory=list)
    note_acks: dict[str, list[tuple[str, int | None]]] = field(default_factory=dict)
    broadcasts_sent: list[str] = field(default_factory=list)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _running: bool = True

    def _ws(self) -> list[str]:
        return [self.system.stack[label].ws_url for label in GATEWAYS]

    def _http(self) -> list[str]:
        return [self.system.stack[label].url for label in GATEWAYS]

    async def start(self) -> None:
        ws = self._ws()
        for n in range(self.writers + self.readers):
            conn = ChatConnection(rotating(ws, n), f"u{n}", self.rooms, ack_timeout_seconds=3.0)
            conn.backoff.cap = 2.0
            conn.start()
            self.chats.append(conn)
        for n, user in enumerate(self.users):
            stream = NotificationStream(rotating(self._http(), n), user)
            stream.backoff.cap = 2.0
            stream.start()
            self.streams.append(stream)
        async with asyncio.timeout(20):
            for conn in self.chats:
                await conn.connected.wait()
            for stream in self.streams:
                await stream.wait_until(lambda s=stream: s.cursor is not None)  # type: ignore[misc]
        for n, conn in enumerate(self.chats[: self.writers]):
            self._tasks.append(asyncio.create_task(self._write(n, conn)))
        self._tasks.append(asyncio.create_task(self._notify()))
        self._tasks.append(asyncio.create_task(self._broadcast()))

    async def _write(self, n: int, conn: ChatConnection) -> None:
        for i in itertools.count():
            if not self._running:
                return
            room = self.rooms[i % len(self.rooms)]
            op = f"w{n}-{i}"
            self.chat_sent.append(op)
            conn.send(room, f"message {i} of writer {n}", op)
            await asyncio.sleep(0.1)

    async def _notify(self) -> None:
        urls = self._http()
        async with httpx.AsyncClient(timeout=5) as http:
            for i in itertools.count():
                if not self._running:
                    return
                user = self.users[i % len(self.users)]
                title = f"note-{i}-{secrets.token_hex(2)}"
                self.notes_sent.append(title)
                body = {"userId": user, "type": "info", "title": title, "message": "m"}
                with contextlib.suppress(httpx.HTTPError):  # unacked: may or may not be stored
                    response = await http.post(f"{urls[i % 2]}/api/notifications/send", json=body)
                    if response.status_code == 200:
                        answer = response.json()
                        self.note_acks[title] = [(answer["notificationId"], answer["cursor"])]
                await asyncio.sleep(0.2)

    async def _broadcast(self) -> None:
        """To everyone, through either gateway; acked with its id (its position comes later)."""
        urls = self._http()
        async with httpx.AsyncClient(timeout=5) as http:
            for i in itertools.count():
                if not self._running:
                    return
                title = f"broadcast-{i}-{secrets.token_hex(2)}"
                self.broadcasts_sent.append(title)
                body = {"type": "info", "title": title, "message": "to everyone"}
                with contextlib.suppress(httpx.HTTPError):  # unacked: may or may not be stored
                    response = await http.post(
                        f"{urls[i % 2]}/api/notifications/broadcast", json=body
                    )
                    if response.status_code == 200:
                        self.note_acks[title] = [(response.json()["broadcastId"], None)]
                await asyncio.sleep(0.5)

    async def stop_sending(self) -> None:
        self._running = False
        await asyncio.gather(*self._tasks)

    async def close(self) -> None:
        self._running = False
        for task in self._tasks:
            task.cancel()
        for conn in self.chats:
            await conn.close()
        for stream in self.streams:
            await stream.close()

    async def verdict(self) -> Verdict:
        database = await asyncpg.connect(self.system.database_url)
        try:
            chat_rows = await database.fetch(
                "SELECT room, seq, id, client_msg_id FROM chat_messages WHERE room = ANY($1)",
                self.rooms,
            )
            note_rows = await database.fetch(
                "SELECT user_id, cursor, id, title FROM notifications WHERE user_id = ANY($1)",
                self.users,
            )
            broadcast_rows = await database.fetch(
                "SELECT audience, cursor, id, title FROM audience_notifications"
                " WHERE title = ANY($1)",
                self.broadcasts_sent,
            )
        finally:
            await database.close()
        stored = [Entry(r["room"], r["seq"], r["id"], r["client_msg_id"]) for r in chat_rows]
        stored += [Entry(r["user_id"], r["cursor"], r["id"], r["title"]) for r in note_rows]
        stored += [
            Entry(f"audience:{r['audience']}", r["cursor"], r["id"], r["title"])
            for r in broadcast_rows
        ]
        acks: dict[str, list[tuple[str, int | None]]] = dict(self.note_acks)
        displayed: dict[str, list[Entry]] = {}
        reads: dict[str, list[str]] = {}
        for n, conn in enumerate(self.chats):
            for (_room, op), ack in conn.acks.items():
                acks.setdefault(op, []).append((ack.id, ack.seq))
            displayed[f"chat-{n}"] = [
                Entry(m.room, m.seq, m.id, m.client_msg_id or "") for m in conn.messages
            ]
            reads[f"chat-{n}"] = self.rooms
        for stream, user in zip(self.streams, self.users, strict=True):
            displayed[f"sse-{user}"] = [
                Entry("audience:all" if "broadcastId" in n.raw else user, n.cursor, n.id, n.title)
                for n in stream.notifications
            ]
            reads[f"sse-{user}"] = [user, "audience:all"]
        sent = [*self.chat_sent, *self.notes_sent, *self.broadcasts_sent]
        return check(sent, acks, stored, displayed, reads)

    async def settle(self, bound: float) -> float:
        """Stop sending; wait (at most ``bound`` s) until every send is acked and every client
        displays everything stored; assert the checker passes. Returns the seconds it took."""
        await self.stop_sending()
        assert self.chat_sent, "chat load ran"
        assert self.note_acks, "notification load ran"
        assert any(title in self.note_acks for title in self.broadcasts_sent), "broadcasts ran"
        began = time.monotonic()
        verdict = Verdict()
        try:
            async with asyncio.timeout(bound):
                for conn in self.chats:
                    await conn.wait_all_acked(timeout=bound)
                while not (verdict := await self.verdict()).ok:  # noqa: ASYNC110 (polls the store)
                    await asyncio.sleep(0.25)
        except TimeoutError:
            pytest.fail(f"not recovered within {bound} s: {verdict.summary()}")
        acked = sum(len(c.acks) for c in self.chats[: self.writers])
        assert acked == len(self.chat_sent), "every chat send is acked in the end"
        return time.monotonic() - began


@contextlib.asynccontextmanager
async def load_on(system: Faulty, **kwargs: int) -> AsyncIterator[Load]:
    load = Load(system, **kwargs)  # type: ignore[arg-type]
    try:
        await load.start()
        await asyncio.sleep(1.0)  # steady load before the fault
        yield load
    finally:
        await load.close()


async def in_thread(action: Callable[[], None]) -> None:
    """Process control blocks (it waits for exits and readiness): off the event loop."""
    await asyncio.to_thread(action)


def restarted(handle: ServiceHandle) -> Callable[[], None]:
    def restart() -> None:
        handle.start()
        handle.wait_ready()

    return restart


async def test_kill_9_of_a_chat_instance_loses_nothing(system: Faulty) -> None:
    async with load_on(system) as load:
        await in_thread(system.stack["chat-2"].kill)
        await asyncio.sleep(2.0)  # under load with one chat instance
        await in_thread(restarted(system.stack["chat-2"]))
        await load.settle(bound=20)


async def test_kill_9_of_notification_loses_no_notification_or_broadcast(system: Faulty) -> None:
    """Sends fail while it is down (unacked, sent again by nobody); an accepted broadcast waits
    in its work queue and is stored once when notification is back."""
    async with load_on(system) as load:
        await in_thread(system.stack["notification"].kill)
        await asyncio.sleep(2.0)
        await in_thread(restarted(system.stack["notification"]))
        await load.settle(bound=20)


async def test_kill_9_of_persistence_under_load_loses_nothing(system: Faulty) -> None:
    """Chat messages, notifications and broadcasts acked while persistence is down wait in
    their streams and are stored once when it is back."""
    async with load_on(system) as load:
        await kill_persistence(system)
        await load.settle(bound=45)


async def stored_room(system: Faulty, room: str, count: int, bound: float) -> list[asyncpg.Record]:
    """The room's rows once there are ``count`` (at most ``bound`` s: persistence writes after
    the ack), by seq."""
    database = await asyncpg.connect(system.database_url)
    try:
        async with asyncio.timeout(bound):
            while True:
                rows = await database.fetch(
                    "SELECT id, seq, kind, target_id, content, edit_count, deleted"
                    " FROM chat_messages"
                    " WHERE room = $1 ORDER BY seq",
                    room,
                )
                if len(rows) >= count:
                    return rows
                await asyncio.sleep(0.25)
    finally:
        await database.close()


async def kill_both_chat_instances(system: Faulty) -> None:
    await in_thread(system.stack["chat-2"].kill)
    await asyncio.sleep(1.0)  # changes go on with one chat instance
    await in_thread(system.stack["chat"].kill)
    await asyncio.sleep(1.0)  # and with none: every change sent meanwhile is sent again
    await in_thread(restarted(system.stack["chat"]))
    await in_thread(restarted(system.stack["chat-2"]))


async def kill_persistence(system: Faulty) -> None:
    """Chat cannot look targets up: changes are refused unavailable and sent again."""
    await in_thread(system.stack["persistence"].kill)
    await asyncio.sleep(2.0)
    await in_thread(restarted(system.stack["persistence"]))


async def kill_nats(system: Faulty) -> None:
    await in_thread(system.nats.kill)
    await asyncio.sleep(2.0)
    await in_thread(system.nats.start)


CHANGE_FAULTS: dict[str, tuple[Callable[[Faulty], Awaitable[None]], float]] = {
    "chat": (kill_both_chat_instances, 20),
    "persistence": (kill_persistence, 45),
    "nats": (kill_nats, 45),
}
"""What is killed while edits and deletions are sent, and the recovery bound (reliability.md)."""


async def test_sigterm_of_a_gateway_moves_its_clients_to_the_other(system: Faulty) -> None:
    gateway = system.stack["gateway"]
    async with load_on(system) as load:
        await in_thread(gateway.stop)
        await asyncio.sleep(1.0)
        await in_thread(restarted(gateway))
        await load.settle(bound=20)
        assert all(conn.connects >= 2 for conn in load.chats[::2]), "they reconnected"


async def test_kill_9_of_a_gateway_moves_its_clients_to_the_other(system: Faulty) -> None:
    gateway = system.stack["gateway-2"]
    async with load_on(system) as load:
        await in_thread(gateway.kill)
        await asyncio.sleep(2.0)
        await in_thread(restarted(gateway))
        await load.settle(bound=20)
        assert all(conn.connects >= 2 for conn in load.chats[1::2]), "they reconnected"


async def test_kill_9_of_nats_under_load_then_restart_on_the_same_store(system: Faulty) -> None:
    async with load_on(system) as load:
        await in_thread(system.nats.kill)
        await asyncio.sleep(2.0)
        await in_thread(system.nats.start)
        await load.settle(bound=45)


async def test_presence_moves_again_as_soon_as_nats_is_back(system: Faulty) -> None:
    """Chat reads the presence buckets anew when it reconnects: a member joining right after a
    NATS restart is seen, by itself and the room, at once. (nats-py alone replaces a watch's
    lost consumer after two missed heartbeats: presence stood still for ~17 s, and every join
    waited a second for it.)"""
    room = f"presence-{secrets.token_hex(3)}"
    one, two = (system.stack[label].ws_url for label in GATEWAYS)
    async with FrameClient(f"{one}/chat/{room}?userId=watcher") as watcher:
        await watcher.wait_for("presence", presence_of({"watcher"}))
        await in_thread(system.nats.kill)
        await asyncio.sleep(1.0)
        await in_thread(system.nats.start)
        for handle in system.stack.services.values():  # each has reconnected
            await in_thread(handle.wait_ready)
        async with FrameClient(f"{two}/chat/{room}?userId=bob") as bob:
            await bob.wait_for("presence", presence_of({"watcher", "bob"}), timeout=5)
            await watcher.wait_for("presence", presence_of({"watcher", "bob"}), timeout=5)


async def test_kill_9_of_postgresql_during_writes_then_restart(system: Faulty) -> None:
    async with load_on(system) as load:
        await in_thread(system.postgres.kill)
        await asyncio.sleep(2.0)
        await in_thread(system.postgres.start)
        await load.settle(bound=45)


async def test_a_rolling_restart_of_both_gateways_loses_nothing(system: Faulty) -> None:
    async with load_on(system) as load:
        for label in GATEWAYS:
            gateway = system.stack[label]
            await in_thread(gateway.stop)
            await in_thread(restarted(gateway))
        await load.settle(bound=20)
        assert all(conn.connects >= 2 for conn in load.chats), "every client moved at least once"


async def test_a_slow_postgresql_keeps_work_bounded_without_redelivery(system: Faulty) -> None:
    """Persistence behind a proxy that delays every chunk: it falls behind, holds at most
    WRITE_CONCURRENCY batches unacked, asks for no redelivery, and catches up once PostgreSQL
    is fast again."""
    persistence = system.stack["persistence"]
    direct = persistence.env["DATABASE_URL"]
    proxy = DelayProxy("127.0.0.1", system.postgres.port, delay=0.2)
    await proxy.start()
    bus = await nats.connect(system.nats.url)
    spec = PERSISTENCE_CHAT_CONSUMER
    try:
        await in_thread(persistence.kill)
        persistence.env["DATABASE_URL"] = direct.replace(
            f":{system.postgres.port}/", f":{proxy.port}/"
        )
        await in_thread(restarted(persistence))
        async with load_on(system) as load:
            pending: list[int] = []
            for _ in range(12):
                info = await bus.jetstream().consumer_info(spec.stream, spec.durable)
                pending.append(info.num_ack_pending)
                await asyncio.sleep(0.25)
            proxy.delay = 0.0
            await load.settle(bound=30)
            info = await bus.jetstream().consumer_info(spec.stream, spec.durable)
        assert max(pending) <= WRITES_IN_FLIGHT, "WRITE_CONCURRENCY batches in flight at most"
        assert info.num_redelivered == 0
    finally:
        await bus.close()
        await in_thread(persistence.kill)
        persistence.env["DATABASE_URL"] = direct
        await in_thread(restarted(persistence))
        await proxy.close()


async def counted(gateway: ServiceHandle, name: str, transport: str) -> float:
    """A gateway counter's value for one transport, from its /metrics."""
    return (await by_transport(gateway.url, name)).get(transport, 0.0)


async def stored_entries(system: Faulty, query: str, key: str) -> list[Entry]:
    """Rows of ``query`` (four columns, in ``Entry``'s order) for ``key``, from PostgreSQL."""
    database = await asyncpg.connect(system.database_url)
    try:
        rows = await database.fetch(query, key)
    finally:
        await database.close()
    return [Entry(*row) for row in rows]


async def stored_notifications(system: Faulty, user: str) -> list[Entry]:
    query = "SELECT user_id, cursor, id, title FROM notifications WHERE user_id = $1"
    return await stored_entries(system, query, user)


STALL_FLOOD_MAX = 600  # 5 kB each: several times what the kernel buffers for one socket
STALL_BATCH = 20


async def test_an_sse_reader_that_stops_reading_is_cut_off_and_resumes_without_loss(
    system: Faulty,
) -> None:
    """A real socket that stops reading while big notifications pour in for its user: the
    gateway ends the stream after SSE_WRITE_TIMEOUT_SECONDS blocked, another user's stream on
    the same gateway is not slowed meanwhile, and the reader resuming with Last-Event-ID gets
    every acked notification exactly once."""
    gateway, other = system.stack["gateway"], system.stack["gateway-2"]
    address = urlsplit(gateway.url)
    assert address.hostname is not None
    assert address.port is not None
    user = f"stall-{secrets.token_hex(3)}"
    message = "x" * 5000
    sent: list[str] = []
    acks: dict[str, list[tuple[str, int]]] = {}
    async with load_on(system) as load, httpx.AsyncClient(timeout=10) as http:

        async def notify(to: str, title: str, via: ServiceHandle) -> None:
            body = {"userId": to, "type": "info", "title": title, "message": message}
            with contextlib.suppress(httpx.HTTPError):
                response = await http.post(f"{via.url}/api/notifications/send", json=body)
                if response.status_code == 200:
                    answer = response.json()
                    acks[title] = [(answer["notificationId"], answer["cursor"])]

        cut_before = await counted(gateway, SLOW_CLIENTS, "sse")
        path = f"/api/notifications/stream?userId={user}"
        watched, stream = load.users[0], load.streams[0]
        delays: list[float] = []
        cut = asyncio.Event()

        async def probe() -> None:
            """Another user's stream on the same gateway, timed from ack to display while the
            stalled one floods and blocks, until it is cut off."""
            for n in itertools.count():
                if cut.is_set():
                    return
                title = f"probe-{n}-{secrets.token_hex(2)}"
                load.notes_sent.append(title)
                await notify(watched, title, gateway)
                if title in acks:
                    load.note_acks[title] = list(acks.pop(title))
                    acked = time.monotonic()
                    await stream.wait_until(
                        lambda t=title: any(x.title == t for x in stream.notifications),  # type: ignore[misc]
                        timeout=10,
                    )
                    delays.append(time.monotonic() - acked)
                await asyncio.sleep(0.3)

        async with StalledSseReader(address.hostname, address.port, path) as stalled:
            probing = asyncio.create_task(probe())
            while len(sent) < STALL_FLOOD_MAX:
                batch = [f"stall-{len(sent) + n}" for n in range(STALL_BATCH)]
                sent.extend(batch)
                await asyncio.gather(*(notify(user, title, other) for title in batch))
            # Cut off within SSE_WRITE_TIMEOUT_SECONDS of blocking (and a loaded machine's slack).
            async with asyncio.timeout(SSE_STALL_SECONDS + 10):
                while await counted(gateway, SLOW_CLIENTS, "sse") <= cut_before:  # noqa: ASYNC110
                    await asyncio.sleep(0.2)
            cut.set()
            await probing
            assert delays, "the other stream was probed during the stall"
            assert max(delays) < 1.0, f"another reader was slowed: {max(delays):.2f} s"
            cut_at = time.monotonic()
            await stalled.drain(timeout=10)
            assert stalled.ended, "the gateway closed the stalled connection"
        events = stalled.events()
        shown = [
            Entry(user, int(e.id or 0), str(e.json()["id"]), str(e.json()["title"]))
            for e in events
            if e.event == "notification"
        ]
        ready = [int(e.id or 0) for e in events if e.event == "ready"]
        assert ready, "the stream had begun"
        last = max([p.position for p in shown], default=ready[0])
        assert last < max(cursor for ((_, cursor),) in acks.values()), "it was cut off behind"

        resumed = NotificationStream(gateway.url, user, last_event_id=last)
        resumed.start()
        try:
            newest = max(cursor for ((_, cursor),) in acks.values())
            await resumed.wait_until(lambda: (resumed.cursor or 0) >= newest, timeout=20)
            async with asyncio.timeout(20):
                while True:
                    displayed = shown + [
                        Entry(user, n.cursor, n.id, n.title) for n in resumed.notifications
                    ]
                    stored = await stored_notifications(system, user)
                    verdict = check(sent, acks, stored, {"stalled": displayed}, {"stalled": [user]})
                    if verdict.ok:
                        break
                    await asyncio.sleep(0.25)
            recovered = time.monotonic() - cut_at
        finally:
            await resumed.close()
        assert verdict.ok, verdict.summary()
        assert len(acks) >= STALL_FLOOD_MAX * 0.9, "the flood was acked"
        print(
            f"stalled SSE: {len(shown)} shown before the cut, recovered in {recovered:.1f} s;"
            f" another stream's {len(delays)} probes took at most {max(delays):.2f} s"
        )
        await load.settle(bound=20)


async def stored_messages(system: Faulty, room: str) -> list[Entry]:
    query = "SELECT room, seq, id, client_msg_id FROM chat_messages WHERE room = $1"
    return await stored_entries(system, query, room)


WS_FLOOD_MAX = 4000  # the kernel buffers a few MB for the slow reader before the gateway sees it
WS_BATCH = 100


async def test_a_websocket_reader_that_stops_reading_is_cut_off_and_resumes_without_loss(
    system: Faulty,
) -> None:
    """A real socket that stops reading while its room is flooded with big messages: the gateway
    closes it with 1013 once OUTBOX_FRAMES are queued, without slowing the rest of the load, and
    the reader resuming with ``since`` shows every acked message exactly once."""
    gateway = system.stack["gateway"]
    room = f"flood-{secrets.token_hex(3)}"
    content = "x" * 4990
    sent: list[str] = []
    async with load_on(system) as load:
        cut_before = await counted(gateway, SLOW_CLIENTS, "websocket")
        flooder = ChatConnection(gateway.ws_url, "flooder", [room], ack_timeout_seconds=5.0)
        flooder.start()
        try:
            async with SlowReader(f"{gateway.ws_url}/chat/{room}?userId=slow") as slow:
                await slow.wait_for("presence")
                await flooder.connected.wait()
                slow.ws.transport.pause_reading()
                while not slow.closed.is_set() and slow.ws.close_code is None:
                    assert len(sent) < WS_FLOOD_MAX, "the stalled reader was never cut off"
                    for _ in range(WS_BATCH):
                        sent.append(flooder.send(room, f"{len(sent)} {content}", f"f{len(sent)}"))
                    await flooder.wait_all_acked(timeout=30)
                    if await counted(gateway, SLOW_CLIENTS, "websocket") > cut_before:
                        break
                cut_at = time.monotonic()
                # What the gateway wrote before it closed (the flush that crossed the limit
                # included) is still delivered; a batch after the cut must come by resume only.
                for _ in range(WS_BATCH):
                    sent.append(flooder.send(room, f"{len(sent)} {content}", f"f{len(sent)}"))
                await flooder.wait_all_acked(timeout=30)
                slow.ws.transport.resume_reading()
                await asyncio.wait_for(slow.closed.wait(), timeout=30)
                assert slow.ws.close_code == 1013
            shown = [
                Entry(room, f["seq"], f["id"], f["payload"].get("clientMsgId", ""))
                for f in slow.of_type("chat")
            ]
            last = max((e.position for e in shown), default=0)
            newest = max(ack.seq for ack in flooder.acks.values())
            assert last < newest, "it was cut off behind"
            resumed = ChatConnection(
                gateway.ws_url, "slow", [room], cursors=RoomCursors({room: last})
            )
            resumed.start()
            try:
                async with asyncio.timeout(20):
                    while True:
                        displayed = shown + [
                            Entry(m.room, m.seq, m.id, m.client_msg_id or "")
                            for m in resumed.messages
                        ]
                        acks = {op: [(a.id, a.seq)] for (_, op), a in flooder.acks.items()}
                        stored = await stored_messages(system, room)
                        verdict = check(sent, acks, stored, {"slow": displayed}, {"slow": [room]})
                        if verdict.ok:
                            break
                        await asyncio.sleep(0.25)
                recovered = time.monotonic() - cut_at
            finally:
                await resumed.close()
        finally:
            await flooder.close()
        assert verdict.ok, verdict.summary()
        print(f"stalled WebSocket: {len(shown)} shown before 1013, recovered in {recovered:.1f} s")
        await load.settle(bound=20)


@pytest.mark.parametrize("fault", sorted(CHANGE_FAULTS))
async def test_kill_9_while_edits_and_deletions_are_sent_applies_each_acked_one_once(
    system: Faulty, fault: str
) -> None:
    inflict, bound = CHANGE_FAULTS[fault]
    room = f"edits-{secrets.token_hex(3)}"
    ws = [system.stack[label].ws_url for label in GATEWAYS]
    editor = ChatConnection(rotating(ws, 0), "editor", [room], ack_timeout_seconds=3.0)
    watcher = ChatConnection(rotating(ws, 1), "watcher", [room], ack_timeout_seconds=3.0)
    edited: dict[str, tuple[str, str]] = {}  # clientMsgId: (target id, content)
    deleted: dict[str, str] = {}  # clientMsgId: target id

    async def change_all(targets: list[str], doomed: list[str]) -> None:
        """Bursts of edits, so that some are on their way whenever the fault strikes, and a
        deletion of another message now and then."""
        for i in itertools.count():
            target, content = targets[i % len(targets)], f"edit {i}"
            edited[editor.edit(room, target, content, f"e-{i}")] = (target, content)
            if i % 25 == 24 and doomed:
                target = doomed.pop()
                deleted[editor.delete(room, target, f"d-{i}")] = target
            if i % 5 == 4:
                await asyncio.sleep(0.05)

    for conn in (editor, watcher):
        conn.backoff.cap = 2.0
        conn.start()
    try:
        async with asyncio.timeout(20):
            await editor.connected.wait()
            await watcher.connected.wait()
        sends = [editor.send(room, f"message {n}") for n in range(10)]
        await editor.wait_all_acked(timeout=20)
        messages = [editor.acks[(room, cmid)].id for cmid in sends]
        targets, doomed = messages[:5], messages[5:]
        changing = asyncio.create_task(change_all(targets, list(doomed)))
        await asyncio.sleep(1.0)
        await inflict(system)
        await asyncio.sleep(0.5)
        changing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await changing
        await editor.wait_all_acked(timeout=bound)
        acks = {cmid: editor.acks[(room, cmid)] for cmid in [*edited, *deleted]}
        last = len(sends) + len(acks)
        rows = await stored_room(system, room, last, bound=bound)
        async with asyncio.timeout(bound):
            while watcher.cursors.since(room) != last:  # noqa: ASYNC110 (the client's state)
                await asyncio.sleep(0.1)
    finally:
        for conn in (editor, watcher):
            await conn.close()
    assert deleted, "deletions were sent"
    assert not editor.refused
    # exactly once: one stored event per change sent, the acked one, and no seq left unused
    assert [row["seq"] for row in rows] == list(range(1, last + 1))
    events = {row["id"]: row for row in rows if row["kind"] != "message"}
    assert sorted(events) == sorted(ack.id for ack in acks.values())
    assert all(events[ack.id]["seq"] == ack.seq for ack in acks.values())
    assert all(events[acks[cmid].id]["kind"] == "delete" for cmid in deleted)
    # applied once each, in the room's order: the count and the last edit's content; tombstones
    by_id = {row["id"]: row for row in rows}
    for target in targets:
        mine = sorted((acks[c].seq, content) for c, (t, content) in edited.items() if t == target)
        row = by_id[target]
        assert (row["edit_count"], row["content"]) == (len(mine), mine[-1][1])
    for target in deleted.values():
        assert (by_id[target]["content"], by_id[target]["deleted"]) == ("", True)
    # and a member saw each once, in order
    assert [(c.seq, c.id) for c in watcher.changes] == sorted(
        (ack.seq, ack.id) for ack in acks.values()
    )


REACTION_EMOJI = ("👍", "🎉", ":ship_it:")


async def stored_reactions(system: Faulty, room: str) -> set[tuple[str, str, str]]:
    """The (message, emoji, user) held in ``chat_reactions`` for the messages of ``room``."""
    database = await asyncpg.connect(system.database_url)
    try:
        rows = await database.fetch(
            "SELECT r.message_id, r.emoji, r.user_id FROM chat_reactions r"
            " JOIN chat_messages m ON m.id = r.message_id WHERE m.room = $1 AND r.added",
            room,
        )
    finally:
        await database.close()
    return {(row["message_id"], row["emoji"], row["user_id"]) for row in rows}


@pytest.mark.parametrize("fault", sorted(CHANGE_FAULTS))
async def test_kill_9_while_reactions_are_sent_applies_each_acked_one_once(
    system: Faulty, fault: str
) -> None:
    inflict, bound = CHANGE_FAULTS[fault]
    room = f"reactions-{secrets.token_hex(3)}"
    ws = [system.stack[label].ws_url for label in GATEWAYS]
    author = ChatConnection(rotating(ws, 0), "author", [room], ack_timeout_seconds=3.0)
    fan = ChatConnection(rotating(ws, 1), "fan", [room], ack_timeout_seconds=3.0)
    watcher = ChatConnection(rotating(ws, 1), "watcher", [room], ack_timeout_seconds=3.0)
    sent: dict[tuple[str, str], tuple[str, str, bool]] = {}  # (user, cmid): (target, emoji, add)
    deleted: dict[str, str] = {}  # clientMsgId: target id

    def reaction(conn: ChatConnection, target: str, emoji: str, add: bool, cmid: str) -> None:
        act = conn.react if add else conn.unreact
        sent[(str(conn.user_id), act(room, target, emoji, cmid))] = (target, emoji, add)

    async def react_all(targets: list[str], doomed: list[str]) -> None:
        """Bursts of reactions by two users, each (message, emoji) added then taken back in
        turns, so that some are on their way whenever the fault strikes; a deletion of a
        reacted message now and then."""
        per_round = len(targets) * len(REACTION_EMOJI)
        for i in itertools.count():
            target = targets[i % len(targets)]
            emoji = REACTION_EMOJI[(i // len(targets)) % len(REACTION_EMOJI)]
            add = (i // per_round) % 2 == 0
            user = author if (i // (2 * per_round)) % 2 else fan  # adds, then takes back
            reaction(user, target, emoji, add, f"x-{i}")
            if i % 25 == 24 and doomed:
                target = doomed.pop()
                deleted[author.delete(room, target, f"d-{i}")] = target
            if i % 5 == 4:
                await asyncio.sleep(0.05)

    for conn in (author, fan, watcher):
        conn.backoff.cap = 2.0
        conn.start()
    try:
        async with asyncio.timeout(20):
            for conn in (author, fan, watcher):
                await conn.connected.wait()
        sends = [author.send(room, f"message {n}") for n in range(10)]
        await author.wait_all_acked(timeout=20)
        messages = [author.acks[(room, cmid)].id for cmid in sends]
        targets, doomed = messages[:5], messages[5:]
        for n, target in enumerate(doomed):  # reacted before the run: their deletion clears it
            reaction(fan, target, "👀", True, f"pre-{n}")
        await fan.wait_all_acked(timeout=20)
        reacting = asyncio.create_task(react_all(targets, list(doomed)))
        await asyncio.sleep(1.0)
        await inflict(system)
        await asyncio.sleep(0.5)
        reacting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reacting
        reaction(fan, targets[0], "🏁", True, "last")  # one held whatever the run left
        for conn in (author, fan):
            await conn.wait_all_acked(timeout=bound)
        conns = {"author": author, "fan": fan}
        acks = {key: conns[key[0]].acks[(room, key[1])] for key in sent}
        deletions = [author.acks[(room, cmid)] for cmid in deleted]
        last = len(sends) + len(acks) + len(deletions)
        rows = await stored_room(system, room, last, bound=bound)
        async with asyncio.timeout(bound):
            while watcher.cursors.since(room) != last:  # noqa: ASYNC110 (the client's state)
                await asyncio.sleep(0.1)
        held = await stored_reactions(system, room)
    finally:
        for conn in (author, fan, watcher):
            await conn.close()
    assert deleted, "deletions were sent"
    assert not author.refused
    assert not fan.refused
    # exactly once: one stored event per reaction sent, the acked one, and no seq left unused
    assert [row["seq"] for row in rows] == list(range(1, last + 1))
    events = {row["id"]: row for row in rows if row["kind"] in ("react", "unreact")}
    assert sorted(events) == sorted(ack.id for ack in acks.values())
    assert all(events[ack.id]["seq"] == ack.seq for ack in acks.values())
    # applied in the room's order: each (message, emoji, user) as its latest acked event left
    # it; nothing on a deleted message
    latest: dict[tuple[str, str, str], tuple[int, bool]] = {}
    for (user, cmid), (target, emoji, add) in sent.items():
        seq = acks[(user, cmid)].seq
        if latest.get((target, emoji, user), (0, False))[0] < seq:
            latest[(target, emoji, user)] = (seq, add)
    gone = set(deleted.values())
    expected = {key for key, (_, add) in latest.items() if add and key[0] not in gone}
    assert held == expected
    assert (targets[0], "🏁", "fan") in held
    assert {add for _, _, add in sent.values()} == {True, False}
    # and a member saw each once, in order
    assert [(c.seq, c.id) for c in watcher.changes] == sorted(
        (ack.seq, ack.id) for ack in [*acks.values(), *deletions]
    )
