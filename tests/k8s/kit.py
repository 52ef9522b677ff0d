"""What the real-cluster tests share: the release on the cluster, timed steps, chat load.

``Release`` wraps helm and kubectl for the namespace; ``steps`` records each step's duration
(printed as it ends and again in pytest's summary); ``ChatLoad`` runs chat clients that keep
sending through the gateway while something is done to the cluster, then counts what was acked,
stored, received and duplicated.
"""

import asyncio
import contextlib
import itertools
import json
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from switchboard_client import ChatConnection
from switchboard_devstack import tokens
from switchboard_localkube.cluster import Cluster

__all__ = ["COUNTS", "NAMESPACE", "RELEASE", "STEPS", "ChatLoad", "LoadCounts", "Release", "step"]

NAMESPACE = "switchboard"
RELEASE = "switchboard"
STEPS: list[tuple[str, float]] = []
COUNTS: list[tuple[str, "LoadCounts"]] = []


_WRITERS: list[Callable[[str], None]] = []


def say(message: str) -> None:
    """A progress line now, on the terminal pytest writes to (capture does not hold it back)."""
    for write in _WRITERS or [lambda line: print(line, file=sys.__stderr__, flush=True)]:
        write(f"[k8s] {message}")


def live_output(write: Callable[[str], None]) -> None:
    _WRITERS[:] = [write]


@contextlib.contextmanager
def step(name: str) -> Iterator[None]:
    """Times a step; its duration is printed at once and in the summary, pass or fail."""
    started = time.monotonic()
    outcome = "failed"
    try:
        yield
        outcome = "ok"
    finally:
        took = time.monotonic() - started
        STEPS.append((f"{name} ({outcome})" if outcome != "ok" else name, took))
        say(f"step {name}: {took:.1f} s {outcome}")


@dataclass
class Release:
    cluster: Cluster
    helm_binary: Path
    chart: Path
    values: Path
    gateway_url: str = ""

    def kubectl(self, *args: str, check: bool = True, timeout: float = 600) -> str:
        return self.cluster.kubectl("-n", NAMESPACE, *args, check=check, timeout=timeout)

    def kubectl_json(self, *args: str) -> Any:
        return json.loads(self.kubectl(*args, "-o", "json"))

    def helm(self, *args: str, timeout: float = 900) -> str:
        result = subprocess.run(
            [
                str(self.helm_binary),
                f"--kubeconfig={self.cluster.kubeconfig}",
                "--namespace",
                NAMESPACE,
                *args,
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise AssertionError(
                f"helm {' '.join(args)} failed ({result.returncode}):\n"
                f"{result.stderr}{result.stdout}" + self.diagnosis()
            )
        return result.stdout

    def diagnosis(self) -> str:
        """Pods, recent events and the logs of pods that are not ready: why a wait failed."""
        parts = ["\n--- pods ---\n" + self.kubectl("get", "pods", "-o", "wide", check=False)]
        events = self.kubectl("get", "events", "--sort-by=.lastTimestamp", check=False)
        parts.append("--- last events ---\n" + "\n".join(events.splitlines()[-25:]))
        with contextlib.suppress(Exception):
            for pod in self.kubectl_json("get", "pods")["items"]:
                statuses = pod["status"].get("containerStatuses", [])
                if statuses and all(s.get("ready") for s in statuses):
                    continue
                name = pod["metadata"]["name"]
                logs = self.kubectl("logs", name, "--tail=15", "--all-containers", check=False)
                parts.append(f"--- logs of {name} ---\n{logs}")
        return "\n".join(parts)

    def psql(self, query: str) -> list[list[str]]:
        out = self.kubectl(
            "exec", "postgres-0", "--", "psql", "-U", "switchboard", "-d", "switchboard",
            "-At", "-F", "\t", "-c", query,
        )  # fmt: skip
        return [line.split("\t") for line in out.splitlines() if line]

    def pods(self, service: str) -> list[dict[str, Any]]:
        selector = f"app.kubernetes.io/name={service},app.kubernetes.io/instance={RELEASE}"
        items: list[dict[str, Any]] = self.kubectl_json("get", "pods", "-l", selector)["items"]
        return items

    def wait_rollout(self, service: str, timeout: int = 300) -> None:
        self.kubectl(
            "rollout", "status", f"deployment/{RELEASE}-{service}", f"--timeout={timeout}s",
            timeout=timeout + 30,
        )  # fmt: skip

    def wait_pods_settled(self, service: str, timeout: float = 180) -> None:
        """Until every pod of ``service`` is ready and none is terminating."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pods = self.pods(service)
            if pods and all(
                "deletionTimestamp" not in p["metadata"]
                and all(s.get("ready") for s in p["status"].get("containerStatuses", [{}]))
                for p in pods
            ):
                return
            time.sleep(1)
        raise AssertionError(f"{service} pods not settled within {timeout} s" + self.diagnosis())

    @property
    def ws_url(self) -> str:
        return self.gateway_url.replace("http://", "ws://", 1)


@dataclass
class LoadCounts:
    acked: int
    stored: int
    received: int
    wanted: int
    duplicates: int
    lost: list[str] = field(default_factory=list)
    reconnects: int = 0
    close_codes: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        codes = ", ".join(f"{code}: {n}" for code, n in sorted(self.close_codes.items()))
        return (
            f"acked {self.acked}, stored {self.stored}, received {self.received} of "
            f"{self.wanted} by every client, duplicates {self.duplicates}, lost {len(self.lost)}, "
            f"reconnects {self.reconnects}, close codes {{{codes}}}"
        )


class ChatLoad:
    """``clients`` chat clients in one room, each sending every ``interval`` seconds."""

    def __init__(self, release: Release, clients: int = 3, interval: float = 0.1) -> None:
        self.release = release
        self.room = f"k8s-{secrets.token_hex(4)}"
        self.interval = interval
        self.connections = [
            ChatConnection(
                release.ws_url,
                f"k8s-user-{n}",
                [self.room],
                token=tokens.mint(f"k8s-user-{n}", ttl=3600),
                ack_timeout_seconds=5.0,
                restart_jitter_seconds=0.5,
            )
            for n in range(clients)
        ]
        self.sent: list[tuple[ChatConnection, str]] = []
        self.warm_up_ids: set[str] = set()
        self._stop = asyncio.Event()
        self._senders: list[asyncio.Task[None]] = []
        self._counter = itertools.count()

    async def __aenter__(self) -> "ChatLoad":
        for conn in self.connections:
            conn.start()
        try:
            async with asyncio.timeout(60):
                for conn in self.connections:
                    await conn.connected.wait()
            await self._warm_up()
        except BaseException:
            await self.__aexit__()
            raise
        self._senders = [asyncio.create_task(self._send(conn)) for conn in self.connections]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        for task in self._senders:
            task.cancel()
        for conn in self.connections:
            await conn.close()

    async def _warm_up(self) -> None:
        """Rounds of one message from each client until a round reaches every client: then all
        joins are in effect. (A client is shown what is sent after its join takes effect on its
        gateway; what came before it has nothing to resume from.)"""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            round_ids = {conn.send(self.room, "warm-up") for conn in self.connections}
            self.warm_up_ids |= round_ids
            until = time.monotonic() + 3
            while time.monotonic() < until:
                if all(
                    round_ids <= {m.client_msg_id for m in c.messages} for c in self.connections
                ):
                    return
                await asyncio.sleep(0.1)
        raise AssertionError("no warm-up round reached every client within 60 s")

    async def _send(self, conn: ChatConnection) -> None:
        while not self._stop.is_set():
            client_msg_id = f"{conn.user_id}-{next(self._counter)}"
            conn.send(self.room, f"message {client_msg_id}", client_msg_id)
            self.sent.append((conn, client_msg_id))
            await asyncio.sleep(self.interval)

    async def stop_and_count(self, label: str, settle_timeout: float = 90.0) -> LoadCounts:
        """Stop sending, wait for every ack and every delivery, then count against PostgreSQL."""
        self._stop.set()
        for task in self._senders:
            task.cancel()
        async with asyncio.timeout(settle_timeout):
            for conn in self.connections:
                await conn.wait_all_acked(timeout=settle_timeout)
        acked = {
            (key[1], ack.seq)
            for conn in self.connections
            for key, ack in conn.acks.items()
            if key[0] == self.room
        }
        # Every acked message must be stored; every one sent after the warm-up, shown to all.
        wanted = {seq for cid, seq in acked if cid not in self.warm_up_ids}
        deadline = time.monotonic() + settle_timeout
        while time.monotonic() < deadline:
            if all(
                wanted <= {m.seq for m in conn.messages if m.room == self.room}
                for conn in self.connections
            ):
                break
            await asyncio.sleep(0.5)
        stored: dict[str, int] = {}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            rows = self.release.psql(
                f"SELECT client_msg_id, seq FROM chat_messages WHERE room = '{self.room}'"
            )
            stored = {row[0]: int(row[1]) for row in rows}
            if len(rows) >= len(acked):
                break
            await asyncio.sleep(1)
        duplicate_rows = self.release.psql(
            "SELECT count(*) - count(DISTINCT client_msg_id) FROM chat_messages"
            f" WHERE room = '{self.room}'"
        )
        received_sets = [
            {m.seq for m in conn.messages if m.room == self.room} for conn in self.connections
        ]
        # The same message shown twice to one client (under two seqs: a resend stored twice).
        shown_twice = sum(
            len(mine) - len({m.client_msg_id for m in mine})
            for mine in (
                [m for m in conn.messages if m.room == self.room] for conn in self.connections
            )
        )
        lost = sorted(
            f"{cid}: not stored" for cid, seq in acked if stored.get(cid) != seq
        ) + sorted(
            f"seq {seq} not received by client {n}"
            for n, got in enumerate(received_sets)
            for seq in wanted - got
        )
        close_codes: dict[str, int] = {}
        for conn in self.connections:
            for code in conn.close_codes:
                close_codes[str(code)] = close_codes.get(str(code), 0) + 1
        counts = LoadCounts(
            acked=len(acked),
            stored=sum(1 for cid, seq in acked if stored.get(cid) == seq),
            received=min((len(got & wanted) for got in received_sets), default=0),
            wanted=len(wanted),
            duplicates=shown_twice + int(duplicate_rows[0][0]),
            lost=lost,
            reconnects=sum(conn.connects - 1 for conn in self.connections),
            close_codes=close_codes,
        )
        COUNTS.append((label, counts))
        say(f"{label}: {counts.line()}")
        return counts
