"""Broadcasts stored once per audience, driven as clients would over two gateways: a user's inbox
is their own notifications and their audiences' broadcasts in one order, replayed exactly from
any cursor; team membership is decided by position (who joins after a broadcast does not get it,
who leaves gets nothing later); read state stays per user; long-poll and WebSocket frames the
same."""

from typing import Any

import pytest
from switchboard_devstack import Stack
from switchboard_devstack.fixtures import ALL_SERVICES, notify_api_fixture, stack_fixture
from switchboard_devstack.names import new_id
from switchboard_devstack.notifyhttp import NotifyHttp, stream_url
from switchboard_devstack.sseclient import EventClient
from switchboard_devstack.wsclient import FrameClient

pytestmark = pytest.mark.e2e

stack = stack_fixture("e2e-notifications-audiences", *ALL_SERVICES, "gateway-b")
api = notify_api_fixture()


def titles(notifications: list[dict[str, Any]]) -> list[str]:
    return [n["title"] for n in notifications]


async def inbox_oldest_first(api: NotifyHttp, user: str) -> list[dict[str, Any]]:
    page = await api.inbox(user, limit=100)
    assert not page["hasMore"]
    return list(reversed(page["notifications"]))


async def test_replay_is_exact_across_personal_notifications_and_broadcasts(
    stack: Stack, api: NotifyHttp
) -> None:
    user, team = new_id("mixed"), new_id("team")
    async with EventClient(stream_url(stack["gateway"].url, user, team=team)) as first:
        await first.wait_for("ready")
        await api.send(user, "own-0")
        await api.broadcast("team-0", team=team)
        await api.broadcast("all-0")
        await first.wait_count("notification", 3)
        resume_from = first.last_event_id
    assert resume_from is not None
    # missed while away, of both kinds
    await api.broadcast("team-1", team=team)
    await api.send(user, "own-1")
    await api.broadcast("all-1")
    url_b = stream_url(stack["gateway-b"].url, user, team=team)
    async with EventClient(url_b, last_event_id=resume_from) as second:
        await api.send(user, "live")
        got = await second.wait_count("notification", 4)
    assert sorted(titles(got)) == ["all-1", "live", "own-1", "team-1"]
    cursors = [n["cursor"] for n in got]
    assert cursors == sorted(set(cursors))
    assert cursors[0] > int(resume_from)
    assert [e.id for e in second.of_type("notification")] == [str(c) for c in cursors]
    assert {n["userId"] for n in [*first.data_of("notification"), *got]} == {user}
    # the inbox, and a new page's first connect from the same cursor, say the same
    everything = await inbox_oldest_first(api, user)
    assert [n["cursor"] for n in everything][3:] == cursors
    url_again = stream_url(stack["gateway"].url, user, team=team, lastEventId=resume_from)
    async with EventClient(url_again) as again:
        replayed = await again.wait_count("notification", 4)
    assert [n["cursor"] for n in replayed] == cursors


async def test_team_membership_is_decided_by_position(stack: Stack, api: NotifyHttp) -> None:
    user, witness, team = new_id("joiner"), new_id("witness"), new_id("team")
    gateway = stack["gateway"].url
    async with EventClient(stream_url(gateway, witness, team=team)) as member:
        await member.wait_for("ready")
        async with EventClient(stream_url(gateway, user)) as outside:  # known, in no team
            await outside.wait_for("ready")
        await api.broadcast("before joining", team=team)
        await member.wait_for("notification", lambda n: n["title"] == "before joining")

        async with EventClient(stream_url(gateway, user, team=team)) as joined:
            await joined.wait_for("ready")
            await api.broadcast("while a member", team=team)
            await joined.wait_for("notification", lambda n: n["title"] == "while a member")
        assert titles(joined.data_of("notification")) == ["while a member"]

        other = new_id("other")
        async with EventClient(stream_url(gateway, user, team=other)) as left:
            await left.wait_for("ready")
            await api.broadcast("after leaving", team=team)
            await member.wait_for("notification", lambda n: n["title"] == "after leaving")
            marker = new_id("everyone")
            await api.broadcast(marker)  # stored after "after leaving": jobs are taken in order
            await left.wait_for("notification", lambda n: n["title"] == marker)
        assert titles(left.data_of("notification")) == [marker]

    inbox = titles(await inbox_oldest_first(api, user))
    assert inbox == ["while a member", marker]
    async with EventClient(stream_url(stack["gateway-b"].url, user), last_event_id=0) as replay:
        again = await replay.wait_count("notification", 2)
    assert titles(again) == inbox
    assert titles(await inbox_oldest_first(api, witness)) == [
        "before joining",
        "while a member",
        "after leaving",
        marker,
    ]


async def test_reading_a_broadcast_is_per_user_and_synced_to_the_users_other_tabs(
    stack: Stack, api: NotifyHttp
) -> None:
    alice, bob, team = new_id("alice"), new_id("bob"), new_id("team")
    async with (
        EventClient(stream_url(stack["gateway"].url, alice, team=team)) as tab_a,
        EventClient(stream_url(stack["gateway-b"].url, alice, team=team)) as tab_b,
        EventClient(stream_url(stack["gateway-b"].url, bob, team=team)) as bobs,
    ):
        for stream in (tab_a, tab_b, bobs):
            await stream.wait_for("ready")
        sent = await api.broadcast("read me", team=team)
        await api.send(alice, "own")
        for stream in (tab_a, tab_b):
            await stream.wait_count("notification", 2)
        await bobs.wait_for("notification", lambda n: n["title"] == "read me")
        [entry] = [n for n in tab_a.data_of("notification") if n["title"] == "read me"]
        assert entry["id"] == entry["broadcastId"] == sent["broadcastId"]
        assert (await api.read(alice, entry["id"]))["unreadCount"] == 1
        assert await tab_b.wait_for("unread") == {"unreadCount": 1}
        assert (await api.inbox(bob))["unreadCount"] == 1  # bob's copy is still unread
        assert (await api.read_all(alice))["unreadCount"] == 0
        await tab_b.wait_for("unread", lambda d: d["unreadCount"] == 0)
    alices = await api.inbox(alice)
    assert alices["unreadCount"] == 0
    assert all(n["read"] for n in alices["notifications"])
    bobs_inbox = await api.inbox(bob)
    assert [(n["title"], n["read"], n["userId"]) for n in bobs_inbox["notifications"]] == [
        ("read me", False, bob)
    ]


async def test_long_poll_and_websocket_frames_get_broadcasts_as_their_user_s(
    stack: Stack, api: NotifyHttp
) -> None:
    user = new_id("poller")
    gateway = stack["gateway"]
    async with FrameClient(f"{gateway.ws_url}/chat/lobby?userId={user}") as socket:
        await socket.wait_for("notification")  # the greeting
        start = await api.poll(user, timeout=0)
        sent = await api.broadcast(new_id("all"))
        frame = await socket.wait_for(
            "notification", lambda f: f["payload"].get("broadcastId") == sent["broadcastId"]
        )
    answer = await api.poll(user, cursor=start["cursor"], timeout=10)
    [polled] = answer["notifications"]
    assert polled["broadcastId"] == sent["broadcastId"]
    assert polled["userId"] == frame["payload"]["userId"] == user
    assert polled["cursor"] == frame["cursor"] == answer["cursor"]
