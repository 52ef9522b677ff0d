"""Notifications over SSE, driven as a client would, with two gateways on real NATS and PostgreSQL:
cross-gateway delivery, exact resume with Last-Event-ID, multi-device, read-state sync, resets."""

import asyncio

import httpx
import pytest
from switchboard_devstack import Stack
from switchboard_devstack.fixtures import ALL_SERVICES, notify_api_fixture, stack_fixture
from switchboard_devstack.names import new_user
from switchboard_devstack.notifyhttp import NotifyHttp, stream_url
from switchboard_devstack.sseclient import EventClient
from switchboard_devstack.wsclient import FrameClient

pytestmark = pytest.mark.e2e


# two gateways (A and B) on one system, shared by the tests of this module
stack = stack_fixture(
    "e2e-notifications-sse", *ALL_SERVICES, "gateway-b", env={"SSE_KEEPALIVE_SECONDS": "0.5"}
)
api = notify_api_fixture("gateway-b")


async def test_a_stream_on_gateway_a_receives_what_is_sent_through_gateway_b(
    stack: Stack, api: NotifyHttp
) -> None:
    user = new_user()
    async with EventClient(stream_url(stack["gateway"].url, user)) as stream:
        await stream.wait_for("ready")
        sent = await api.send(user, "hello", "from B", kind="success")
        [got] = await stream.wait_count("notification", 1)
    assert sent["success"] is True
    assert got["id"] == sent["notificationId"]
    assert (got["type"], got["title"], got["message"], got["read"]) == (
        "success",
        "hello",
        "from B",
        False,
    )
    assert isinstance(got["timestamp"], int)
    [event] = stream.of_type("notification")
    assert event.id == str(got["cursor"]) == str(sent["cursor"])


async def test_the_stream_has_the_contract_headers_a_retry_hint_and_keepalives(
    stack: Stack,
) -> None:
    url = stream_url(stack["gateway"].url, new_user())
    lines: list[str] = []
    async with (
        httpx.AsyncClient(timeout=10) as http,
        http.stream("GET", url, headers={"Accept": "text/event-stream"}) as response,
    ):
        async with asyncio.timeout(10):
            async for line in response.aiter_lines():
                lines.append(line)
                if line == ":keepalive":
                    break
    assert response.headers["content-type"] == "text/event-stream"
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["connection"] == "keep-alive"
    assert response.headers["x-accel-buffering"] == "no"
    assert lines[0] == "retry: 3000"
    assert "event: ready" in lines


async def test_a_client_that_missed_notifications_gets_exactly_those_in_order_then_live_ones(
    stack: Stack, api: NotifyHttp
) -> None:
    user = new_user()
    async with EventClient(stream_url(stack["gateway"].url, user)) as first:
        seen = [await api.send(user, f"n{n}") for n in range(3)]
        await first.wait_count("notification", 3)
        resume_from = first.last_event_id
    assert resume_from == str(seen[-1]["cursor"])
    # Disconnected: five are missed, two of them while the client reconnects.
    for n in range(3, 6):
        await api.send(user, f"n{n}")
    reconnecting = EventClient(stream_url(stack["gateway-b"].url, user), last_event_id=resume_from)
    sending = asyncio.gather(*(api.send(user, f"n{n}") for n in (6, 7)))
    async with reconnecting as second:
        await sending
        await api.send(user, "live")
        got = await second.wait_count("notification", 6)
    titles = [n["title"] for n in got]
    assert titles[:3] == ["n3", "n4", "n5"]
    assert sorted(titles[3:5]) == ["n6", "n7"]
    assert titles[5] == "live"
    cursors = [n["cursor"] for n in got]
    assert cursors == sorted(set(cursors))
    assert cursors[0] > int(resume_from)
    assert [e.id for e in second.of_type("notification")] == [str(c) for c in cursors]


async def test_a_long_resume_while_notifications_keep_arriving_has_no_gap_and_no_duplicate(
    stack: Stack, api: NotifyHttp
) -> None:
    user = new_user()
    missed = 130  # more than one replay page
    await asyncio.gather(*(api.send(user, f"m{n}") for n in range(missed)))
    stop = asyncio.Event()
    sent_during = 0

    async def keep_sending() -> None:
        nonlocal sent_during
        while not stop.is_set():
            await api.send(user, f"during-{sent_during}")
            sent_during += 1

    sender = asyncio.create_task(keep_sending())
    try:
        async with EventClient(stream_url(stack["gateway"].url, user), last_event_id=0) as stream:
            await stream.wait_count("notification", missed + 20, timeout=30)
            stop.set()
            await sender
            total = missed + sent_during
            got = await stream.wait_count("notification", total, timeout=30)
            await api.send(user, "live")
            await stream.wait_count("notification", total + 1)
    finally:
        stop.set()
        await sender
    cursors = [n["cursor"] for n in stream.data_of("notification")]
    assert len(cursors) == total + 1
    assert cursors == sorted(set(cursors))  # every one, in order, none twice
    during = [n["title"] for n in got if n["title"].startswith("during-")]
    assert during == [f"during-{n}" for n in range(sent_during)]


async def test_last_event_id_from_the_query_resumes_a_new_page(
    stack: Stack, api: NotifyHttp
) -> None:
    user = new_user()
    sent = [await api.send(user, f"n{n}") for n in range(4)]
    after = str(sent[1]["cursor"])
    async with EventClient(stream_url(stack["gateway"].url, user, lastEventId=after)) as stream:
        got = await stream.wait_count("notification", 2)
    assert [n["title"] for n in got] == ["n2", "n3"]


async def test_every_open_stream_of_a_user_receives_each_notification_once(
    stack: Stack, api: NotifyHttp
) -> None:
    user = new_user()
    async with (
        EventClient(stream_url(stack["gateway"].url, user)) as laptop,
        EventClient(stream_url(stack["gateway"].url, user)) as tablet,
        EventClient(stream_url(stack["gateway-b"].url, user)) as phone,
        FrameClient(f"{stack['gateway'].ws_url}/chat/lobby?userId={user}") as socket,
    ):
        for stream in (laptop, tablet, phone):
            await stream.wait_for("ready")
        await socket.wait_for("notification")  # the greeting
        for n in range(3):
            await api.send(user, f"n{n}")
        for stream in (laptop, tablet, phone):
            await stream.wait_count("notification", 3)
        await socket.wait_for("notification", lambda f: f["payload"].get("title") == "n2")
        await api.send(user, "last")
        for stream in (laptop, tablet, phone):
            await stream.wait_count("notification", 4)
        await socket.wait_for("notification", lambda f: f["payload"].get("title") == "last")
    for stream in (laptop, tablet, phone):
        assert [n["title"] for n in stream.data_of("notification")] == ["n0", "n1", "n2", "last"]
    frames = [f for f in socket.of_type("notification") if "title" in f["payload"]]
    assert [f["payload"]["title"] for f in frames] == ["n0", "n1", "n2", "last"]


async def test_a_read_on_one_tab_updates_the_unread_count_on_the_others_live(
    stack: Stack, api: NotifyHttp
) -> None:
    user = new_user()
    async with (
        EventClient(stream_url(stack["gateway"].url, user)) as tab_a,
        EventClient(stream_url(stack["gateway-b"].url, user)) as tab_b,
        FrameClient(f"{stack['gateway-b'].ws_url}/chat/lobby?userId={user}") as socket,
    ):
        await tab_a.wait_for("ready")
        await tab_b.wait_for("ready")
        await socket.wait_for("notification")
        sent = [await api.send(user, f"n{n}") for n in range(3)]
        await tab_a.wait_count("notification", 3)
        answer = await api.read(user, sent[1]["notificationId"])
        assert answer == {"success": True, "unreadCount": 2}
        for tab in (tab_a, tab_b):
            assert await tab.wait_for("unread") == {"unreadCount": 2}
        await socket.wait_for("unread")
        assert (await api.read_all(user))["unreadCount"] == 0
        for tab in (tab_a, tab_b):
            await tab.wait_for("unread", lambda d: d["unreadCount"] == 0)
        await socket.wait_for("unread", lambda f: f["payload"]["unreadCount"] == 0)
    inbox = await api.inbox(user)
    assert inbox["unreadCount"] == 0
    assert all(n["read"] for n in inbox["notifications"])


async def test_an_unknown_cursor_produces_one_reset_and_then_live_notifications(
    stack: Stack, api: NotifyHttp
) -> None:
    user = new_user()
    first = await api.send(user, "n0")
    beyond = first["cursor"] + 1000
    url = stream_url(stack["gateway"].url, user)
    async with EventClient(url, last_event_id=beyond) as stream:
        reset = await stream.wait_for("reset")
        sent = await api.send(user, "live")
        [live] = await stream.wait_count("notification", 1)
    assert reset["cursor"] == first["cursor"]
    assert str(beyond) in reset["reason"]
    assert [e.id for e in stream.of_type("reset")] == [str(first["cursor"])]
    assert live["title"] == "live"
    assert live["cursor"] == sent["cursor"]
