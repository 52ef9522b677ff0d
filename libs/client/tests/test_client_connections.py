"""ChatConnection and NotificationStream against fakes of the client's own wire interfaces."""

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest
from switchboard_client import Backoff, ChatConnection, NotificationStream
from switchboard_client.errors import ConnectFailedError, TransportClosedError
from switchboard_client.transport import RawEvent


class FakeSocket:
    def __init__(self, url: str) -> None:
        self.url = url
        self.sent: list[dict[str, Any]] = []
        self.inbound: asyncio.Queue[str | int | tuple[int, str]] = asyncio.Queue()
        self.sent_one = asyncio.Event()

    async def send(self, text: str) -> None:
        self.sent.append(json.loads(text))
        self.sent_one.set()

    async def recv(self) -> str:
        item = await self.inbound.get()
        if isinstance(item, int):
            raise TransportClosedError(item)
        if isinstance(item, tuple):
            raise TransportClosedError(*item)
        return item

    async def close(self) -> None:
        self.inbound.put_nowait(1000)

    def push(self, frame: dict[str, Any]) -> None:
        self.inbound.put_nowait(json.dumps(frame))

    def sent_of(self, kind: str) -> list[dict[str, Any]]:
        return [f for f in self.sent if f["type"] == kind]


class FakeServer:
    """Hands out one FakeSocket per connect; ``refuse`` makes the next connects fail."""

    def __init__(self) -> None:
        self.sockets: list[FakeSocket] = []
        self.refuse: list[int | None] = []
        self.connected = asyncio.Condition()

    async def __call__(self, url: str) -> FakeSocket:
        if self.refuse:
            raise ConnectFailedError(self.refuse.pop(0))
        socket = FakeSocket(url)
        async with self.connected:
            self.sockets.append(socket)
            self.connected.notify_all()
        return socket

    async def connection(self, number: int) -> FakeSocket:
        async with asyncio.timeout(5), self.connected:
            await self.connected.wait_for(lambda: len(self.sockets) >= number)
        return self.sockets[number - 1]


def chat_frame(room: str, seq: int, cmid: str | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {"content": f"m{seq}"}
    if cmid:
        payload["clientMsgId"] = cmid
    return {"type": "chat", "room": room, "id": f"{room}-{seq}", "seq": seq, "payload": payload}


def ack_frame(room: str, cmid: str, seq: int) -> dict[str, Any]:
    return {
        "type": "ack",
        "payload": {"clientMsgId": cmid, "id": f"{room}-{seq}", "seq": seq, "room": room},
    }


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        await asyncio.sleep(0)


def fixed_backoff() -> Backoff:
    return Backoff(base=1.0, cap=8.0, rand=lambda _low, high: high)


async def until(condition: Any) -> None:
    async with asyncio.timeout(5):
        while not condition():  # noqa: ASYNC110 (fakes have no event to wait on)
            await asyncio.sleep(0.01)


async def test_a_send_made_offline_goes_out_on_connect_and_again_until_acked() -> None:
    server, sleeps = FakeServer(), Sleeps()
    server.refuse = [None]  # the gateway is down at first
    conn = ChatConnection(
        "ws://gw", "alice", connector=server, backoff=fixed_backoff(), sleep=sleeps
    )
    cmid = conn.send("r", "hello", "c-1")
    async with conn:
        first = await server.connection(1)
        await until(lambda: first.sent_of("chat"))
        assert first.sent_of("join") == [{"type": "join", "payload": {"room": "r"}}]
        first.push(chat_frame("r", 1, cmid))
        first.inbound.put_nowait(1011)  # the ack was lost with the connection
        second = await server.connection(2)
        await until(lambda: second.sent_of("chat"))
        second.push(ack_frame("r", cmid, 1))
        ack = await conn.wait_acked("r", cmid, timeout=5)
    assert ack.seq == 1
    assert [f["payload"]["clientMsgId"] for f in second.sent_of("chat")] == ["c-1"]
    assert second.sent_of("join") == [{"type": "join", "payload": {"room": "r", "since": 1}}]
    # refused: backoff; then 1011 after a frame arrived: the connection worked, backoff restarts
    assert sleeps.delays[:2] == [1.0, 1.0]
    assert len(conn.outbox) == 0


async def test_each_room_and_seq_is_shown_once_across_a_resume() -> None:
    server = FakeServer()
    async with ChatConnection("ws://gw", "bob", ["r"], connector=server, sleep=Sleeps()) as conn:
        first = await server.connection(1)
        for seq in (1, 2):
            first.push(chat_frame("r", seq))
        await until(lambda: len(conn.messages) == 2)
        first.inbound.put_nowait(1012)
        second = await server.connection(2)
        for seq in (2, 3):  # the replay overlaps what was seen live
            second.push(chat_frame("r", seq))
        await until(lambda: len(conn.messages) == 3)
    assert [m.seq for m in conn.messages] == [1, 2, 3]
    assert conn.duplicates_dropped == 1


async def test_a_room_joined_without_a_message_shown_resumes_from_where_it_was_joined() -> None:
    """The connection drops before any message of the room arrived: the join's ``seq`` is
    where it resumes, so what was sent meanwhile is replayed, not skipped."""
    server = FakeServer()
    async with ChatConnection("ws://gw", "bob", ["r"], connector=server, sleep=Sleeps()) as conn:
        first = await server.connection(1)
        first.push({"type": "joined", "room": "r", "payload": {"room": "r", "seq": 4}})
        await until(lambda: conn.cursors.since("r") == 4)
        first.inbound.put_nowait(1011)
        second = await server.connection(2)
        await until(lambda: second.sent_of("join"))
    assert first.sent_of("join") == [{"type": "join", "payload": {"room": "r"}}]
    assert second.sent_of("join") == [{"type": "join", "payload": {"room": "r", "since": 4}}]


async def test_a_restart_close_reconnects_after_a_short_jitter_not_the_backoff() -> None:
    server, sleeps = FakeServer(), Sleeps()
    backoff = fixed_backoff()
    backoff.failures = 3
    conn = ChatConnection(
        "ws://gw",
        "bob",
        connector=server,
        backoff=backoff,
        restart_jitter_seconds=0.5,
        sleep=sleeps,
    )
    async with conn:
        (await server.connection(1)).inbound.put_nowait(1012)
        reason = "service restart; reconnect in 1250 ms"
        (await server.connection(2)).inbound.put_nowait((1012, reason))
        await server.connection(3)
    assert sleeps.delays == [0.5, 1.25]  # its own jitter, then the delay the gateway said


async def test_the_single_room_form_resumes_with_since_in_the_url() -> None:
    server = FakeServer()
    async with ChatConnection("ws://gw", "bob", room="r", connector=server, sleep=Sleeps()) as c:
        first = await server.connection(1)
        first.push(chat_frame("r", 5))
        await until(lambda: c.messages)
        first.inbound.put_nowait(1006)
        second = await server.connection(2)
    assert first.url == "ws://gw/chat/r?userId=bob"
    assert second.url == "ws://gw/chat/r?userId=bob&since=5"


async def test_a_policy_close_or_a_refused_handshake_is_final() -> None:
    server = FakeServer()
    conn = ChatConnection("ws://gw", "bob", connector=server, sleep=Sleeps())
    async with conn:
        (await server.connection(1)).inbound.put_nowait(1008)
        await until(lambda: conn.failed is not None)
    server.refuse = [401]
    refused = ChatConnection("ws://gw", "bob", connector=server, sleep=Sleeps())
    async with refused:
        await until(lambda: refused.failed is not None)
    assert len(server.sockets) == 1


async def test_an_unacked_send_is_retried_with_the_same_id_after_the_ack_timeout() -> None:
    server = FakeServer()
    conn = ChatConnection("ws://gw", "a", connector=server, ack_timeout_seconds=0.2)
    async with conn:
        socket = await server.connection(1)
        conn.send("r", "x", "c-9")
        await until(lambda: len(socket.sent_of("chat")) >= 2)
    assert {f["payload"]["clientMsgId"] for f in socket.sent_of("chat")} == {"c-9"}


class FakeSse:
    """One scripted list of events per connect; a script ending in an int fails with it."""

    def __init__(self, scripts: list[list[RawEvent | int]]) -> None:
        self.scripts = scripts
        self.headers: list[dict[str, str]] = []

    async def __call__(self, url: str, headers: Mapping[str, str]) -> AsyncIterator[RawEvent]:
        self.headers.append(dict(headers))
        script = self.scripts.pop(0) if self.scripts else []
        for item in script:
            if isinstance(item, int):
                raise ConnectFailedError(item or None)
            yield item
        if not self.scripts:
            await asyncio.Event().wait()  # the last connection stays open


def note(cursor: int) -> RawEvent:
    data = {"id": f"n{cursor}", "cursor": cursor, "type": "info", "title": "t", "message": "m"}
    return RawEvent("notification", json.dumps(data), str(cursor))


async def test_notifications_resume_with_the_last_cursor_and_show_each_once() -> None:
    sse = FakeSse(
        [
            [RawEvent("ready", '{"cursor": 0}', "0"), note(1), note(2), 0],
            [RawEvent("ready", '{"cursor": 2}', "2"), note(2), note(3)],
        ]
    )
    stream = NotificationStream("http://gw", "alice", opener=sse, sleep=Sleeps())
    async with stream:
        await stream.wait_until(lambda: len(stream.notifications) == 3, timeout=5)
    assert [n.cursor for n in stream.notifications] == [1, 2, 3]
    assert sse.headers == [{}, {"Last-Event-ID": "2"}]
    assert stream.duplicates_dropped == 1


async def test_a_reset_moves_the_cursor_and_a_refusal_is_final() -> None:
    sse = FakeSse([[RawEvent("reset", '{"cursor": 9, "reason": "unknown"}', "9")]])
    stream = NotificationStream("http://gw", "a", last_event_id=50, opener=sse, sleep=Sleeps())
    async with stream:
        await stream.wait_until(lambda: bool(stream.resets), timeout=5)
    assert stream.cursor == 9
    refused = NotificationStream("http://gw", "a", opener=FakeSse([[400]]), sleep=Sleeps())
    async with refused:
        await until(lambda: refused.failed is not None)
    assert stream.url() == "http://gw/api/notifications/stream?userId=a"


@pytest.mark.parametrize("teams", [["red", "blue"]])
def test_the_stream_url_names_user_and_teams(teams: list[str]) -> None:
    stream = NotificationStream("http://gw/", "a", teams=teams)
    assert stream.url() == "http://gw/api/notifications/stream?userId=a&team=red&team=blue"


async def test_an_edit_and_a_delete_go_out_until_acked_and_their_events_advance_since() -> None:
    server, sleeps = FakeServer(), Sleeps()
    conn = ChatConnection(
        "ws://gw", "alice", connector=server, backoff=fixed_backoff(), sleep=sleeps
    )
    async with conn:
        first = await server.connection(1)
        edit_id = conn.edit("r", "r-1", "new", "e-1")
        delete_id = conn.delete("r", "r-1", "d-1")
        await until(lambda: first.sent_of("edit") and first.sent_of("delete"))
        change = {"messageId": "r-1", "content": "new", "clientMsgId": edit_id}
        edit_event = {"type": "edit", "room": "r", "id": "e", "seq": 2, "payload": change}
        first.push(edit_event)
        first.push(edit_event)  # seen twice (a replay overlapping live): shown once
        first.push(ack_frame("r", edit_id, 2))
        await conn.wait_acked("r", edit_id, timeout=5)
        first.inbound.put_nowait(1011)  # the delete's ack is lost with the connection
        second = await server.connection(2)
        await until(lambda: second.sent_of("delete"))
    assert first.sent_of("edit")[0]["payload"] == {
        "clientMsgId": "e-1",
        "attempt": 1,
        "content": "new",
        "messageId": "r-1",
        "room": "r",
    }
    assert second.sent_of("delete")[0]["payload"] == {
        "clientMsgId": delete_id,
        "attempt": 2,
        "messageId": "r-1",
        "room": "r",
    }
    assert second.sent_of("join") == [{"type": "join", "payload": {"room": "r", "since": 2}}]
    assert [(c.kind, c.seq, c.message_id) for c in conn.changes] == [("edit", 2, "r-1")]


async def test_a_reaction_goes_out_with_its_emoji_and_its_events_are_changes() -> None:
    server = FakeServer()
    conn = ChatConnection("ws://gw", "alice", connector=server, backoff=fixed_backoff())
    async with conn:
        socket = await server.connection(1)
        react_id = conn.react("r", "r-1", "👍", "x-1")
        conn.unreact("r", "r-1", "🎉", "x-2")
        await until(lambda: socket.sent_of("react") and socket.sent_of("unreact"))
        event = {"messageId": "r-1", "emoji": "👍", "clientMsgId": react_id}
        socket.push({"type": "react", "room": "r", "id": "x", "seq": 3, "payload": event})
        socket.push(ack_frame("r", react_id, 3))
        await conn.wait_acked("r", react_id, timeout=5)
    assert socket.sent_of("react")[0]["payload"] == {
        "clientMsgId": "x-1",
        "attempt": 1,
        "emoji": "👍",
        "messageId": "r-1",
        "room": "r",
    }
    assert socket.sent_of("unreact")[0]["payload"]["emoji"] == "🎉"
    assert [(c.kind, c.seq, c.content) for c in conn.changes] == [("react", 3, "👍")]
    assert [p.client_msg_id for p in conn.outbox.pending()] == ["x-2"]


async def test_an_edit_refused_for_good_leaves_the_outbox() -> None:
    server = FakeServer()
    conn = ChatConnection("ws://gw", "alice", connector=server, backoff=fixed_backoff())
    async with conn:
        socket = await server.connection(1)
        conn.edit("r", "r-1", "mine now", "e-1")
        conn.send("r", "too long?", "c-1")
        await until(lambda: socket.sent_of("edit") and socket.sent_of("chat"))
        for ref in ("e-1", "c-1"):
            socket.push({"type": "error", "payload": {"code": "forbidden", "ref": ref}})
        await until(lambda: ("r", "e-1") in conn.refused)
    assert conn.refused[("r", "e-1")].code == "forbidden"
    assert [p.client_msg_id for p in conn.outbox.pending()] == ["c-1"]  # a chat stays


def read_frame(room: str, user: str, seq: int, unread: int | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {"userId": user, "seq": seq}
    if unread is not None:
        payload.update(unreadCount=unread, upto=seq + unread)
    return {"type": "read", "room": room, "payload": payload}


async def test_a_read_mark_is_sent_again_on_reconnect_until_the_server_answers_it() -> None:
    server = FakeServer()
    conn = ChatConnection("ws://gw", "al", connector=server, sleep=Sleeps())
    async with conn:
        first = await server.connection(1)
        conn.mark_read("r", 4)
        conn.mark_read("r", 2)  # never back: still 4
        await until(lambda: len(first.sent_of("read")) >= 2)
        first.inbound.put_nowait(1011)  # no answer before the connection ended
        second = await server.connection(2)
        await until(lambda: second.sent_of("read"))
        assert second.sent_of("read") == [{"type": "read", "payload": {"room": "r", "seq": 4}}]
        second.push(read_frame("r", "al", 4, unread=1))
        mark = await conn.wait_read("r", "al", 4, timeout=5)
    assert (mark.seq, mark.unread_count, mark.upto) == (4, 1, 5)
    assert [f["payload"]["seq"] for f in first.sent_of("read")] == [4, 4]


async def test_others_marks_are_kept_greatest_first_and_an_answered_mark_is_not_resent() -> None:
    server = FakeServer()
    conn = ChatConnection("ws://gw", "al", connector=server, ack_timeout_seconds=0.2)
    async with conn:
        socket = await server.connection(1)
        conn.mark_read("r", 3)
        await until(lambda: socket.sent_of("read"))
        socket.push(read_frame("r", "al", 3, unread=0))
        socket.push(read_frame("r", "bo", 7))
        socket.push(read_frame("r", "bo", 5))  # late and lower: ignored
        await conn.wait_read("r", "al", 3, timeout=5)
        await until(lambda: ("r", "bo") in conn.read_marks)
        conn.mark_read("q", 1)  # never answered: resent after each ack timeout
        await until(lambda: len(of_room(socket.sent_of("read"), "q")) >= 3)
    assert conn.read_marks[("r", "bo")].seq == 7
    assert conn.read_marks[("r", "bo")].unread_count is None
    # two ack timeouts went by (q resent twice): the answered mark was not sent again
    assert len(of_room(socket.sent_of("read"), "r")) == 1


def of_room(frames: list[dict[str, Any]], room: str) -> list[dict[str, Any]]:
    return [f for f in frames if f["payload"].get("room") == room]
