"""One connection per browser, however many tabs (issue 22), in real Chromium: the demo page in
three tabs (pages of one browser context) of one user, and a second user in a context of their
own. The gateway's own figures (``/metrics``) say how many WebSockets and SSE streams it holds.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect
from switchboard_devstack import Stack
from switchboard_devstack.browser import CHROMIUM, CHROMIUM_ARGS, needs_chromium
from switchboard_devstack.chatframes import acknowledges, chat, new_room, stored_history
from switchboard_devstack.fixtures import ALL_SERVICES, stack_fixture
from switchboard_devstack.names import new_user
from switchboard_devstack.notifyhttp import NotifyHttp
from switchboard_devstack.polling import until
from switchboard_devstack.scrape import by_transport, total
from switchboard_devstack.tokens import auth_env, mint
from switchboard_devstack.wsclient import FrameClient

pytestmark = [pytest.mark.e2e, needs_chromium]

WAIT_MS = 15_000
WAIT_S = WAIT_MS / 1000

# gateway-auth checks tokens (the others take ?userId=, as the demo page does)
stack = stack_fixture(
    "e2e-shared-tabs",
    *ALL_SERVICES,
    "gateway-2",
    "gateway-auth",
    env_of={"gateway-auth": {**auth_env(), "JWT_LEEWAY_SECONDS": "0"}},
)

# Counts, in a tab, what its client hands the page: chat messages and notifications by id.
COUNT_EVENTS = """() => {
  const client = globalThis.switchboardDemo.client;
  globalThis.shown = { message: {}, notification: {} };
  for (const name of ["message", "notification"]) {
    client.addEventListener(name, (e) => {
      const message = `${e.detail.room}/${e.detail.payload?.content}`;
      const key = name === "message" ? message : e.detail.id;
      globalThis.shown[name][key] = (globalThis.shown[name][key] ?? 0) + 1;
    });
  }
}"""


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


class Users:
    """One browser context per user, each with its tabs; console errors collected."""

    def __init__(self, browser: Browser, artifacts: Path) -> None:
        self._browser = browser
        self._artifacts = artifacts
        self._contexts: dict[str, BrowserContext] = {}
        self.errors: list[str] = []

    async def tab(
        self, base_url: str, user: str, room: str, team: str = "ops", share: str = "on"
    ) -> Page:
        if user not in self._contexts:
            self._contexts[user] = await self._browser.new_context(
                viewport={"width": 1400, "height": 900}
            )
        page = await self._contexts[user].new_page()
        page.on("pageerror", lambda error: self.errors.append(f"{user}: {error}"))
        await page.goto(f"{base_url}/?user={user}&room={room}&team={team}&share={share}")
        await page.evaluate(COUNT_EVENTS)
        return page

    async def blank(self, base_url: str, user: str) -> Page:
        """A tab of ``user`` on a page of the gateway's origin without a client of its own."""
        if user not in self._contexts:
            self._contexts[user] = await self._browser.new_context()
        page = await self._contexts[user].new_page()
        page.on("pageerror", lambda error: self.errors.append(f"{user}: {error}"))
        await page.goto(f"{base_url}/healthz")
        return page

    async def screenshot(self, page: Page, name: str) -> None:
        await page.screenshot(path=self._artifacts / f"{name}.png", full_page=True)

    async def close(self) -> None:
        for context in self._contexts.values():
            await context.close()


@pytest_asyncio.fixture
async def users(browser: Browser, artifacts_dir: Path) -> AsyncIterator[Users]:
    users = Users(browser, artifacts_dir)
    try:
        yield users
    finally:
        await users.close()
    assert not users.errors, users.errors


@pytest_asyncio.fixture
async def gateway_url(stack: Stack) -> str:
    """The gateway the tabs use, once the tabs of earlier tests are gone from it."""
    url = stack["gateway"].url
    await connections_are(url, websocket=0, sse=0)
    return url


async def connections_are(base_url: str, *, websocket: int, sse: int) -> None:
    """Waits until the gateway holds exactly this many WebSockets and SSE streams."""
    wanted = {"websocket": float(websocket), "sse": float(sse)}

    async def check() -> bool:
        now = await by_transport(base_url, "switchboard_gateway_connections")
        return {t: now.get(t, 0.0) for t in wanted} == wanted

    await until(check, f"the gateway holds {wanted}", timeout=WAIT_S)


async def online(page: Page, timeout_ms: int = WAIT_MS) -> None:
    for status in ("#chat-status", "#notify-status"):
        await expect(page.locator(status)).to_have_attribute(
            "data-status", "open", timeout=timeout_ms
        )


async def roles(tabs: list[Page]) -> list[str]:
    return [await tab.locator("#tab-role").get_attribute("data-role") or "" for tab in tabs]


async def one_leader(tabs: list[Page]) -> Page:
    """The tab that holds the connection, once exactly one does and the others follow it."""

    async def check() -> bool:
        found = await roles(tabs)
        return found.count("leader") == 1 and found.count("follower") == len(tabs) - 1

    await until(check, "one leader tab, the others following", timeout=WAIT_S)
    return tabs[(await roles(tabs)).index("leader")]


async def say(page: Page, text: str) -> None:
    await page.fill("#chat-input", text)
    await page.press("#chat-input", "Enter")


async def shown(page: Page) -> list[str]:
    """The messages the tab shows (sent and acknowledged), in order."""
    return await page.locator("#messages .msg:not(.pending) .content").all_text_contents()


async def shows_exactly(page: Page, expected: list[str]) -> None:
    """The tab shows each message once (in seq order), and nothing pending."""
    await expect(page.locator("#messages .msg:not(.pending)")).to_have_count(
        len(expected), timeout=WAIT_MS
    )
    await expect(page.locator("#messages .msg.pending")).to_have_count(0, timeout=WAIT_MS)
    assert sorted(await shown(page)) == sorted(expected)


async def counts(page: Page, kind: str) -> dict[str, int]:
    found: dict[str, int] = await page.evaluate(f"() => globalThis.shown.{kind}")
    return found


async def notified(page: Page, expected: dict[str, int]) -> None:
    """Waits until the tab's client has handed the page these notifications (id: times)."""
    seen: dict[str, int] = {}

    async def check() -> bool:
        nonlocal seen
        seen = await counts(page, "notification")
        return seen == expected

    try:
        await until(check, f"notifications {expected}", timeout=WAIT_S)
    except AssertionError as error:
        state = await page.evaluate("""() => { const c = globalThis.switchboardDemo.client;
          return { role: c.role, last: c.seen.lastEventId, stream: c.streamStatus, status: c.status,
            url: c.hub?.stream?.url, slast: c.hub?.stream?.lastEventId }; }""")
        raise AssertionError(f"{error}; the tab was handed {seen}; {state}") from None


async def notify(base_url: str, user: str, title: str) -> str:
    async with NotifyHttp(base_url) as api:
        sent: dict[str, Any] = await api.send(user, title)
    return str(sent["notificationId"])


async def test_three_tabs_of_one_user_share_one_websocket_and_one_notification_stream(
    stack: Stack, users: Users, gateway_url: str
) -> None:
    lobby, other = new_room(), new_room()
    alice_id, bob_id = new_user("alice"), new_user("bob")
    alice = [
        await users.tab(gateway_url, alice_id, lobby),
        await users.tab(gateway_url, alice_id, lobby),
        await users.tab(gateway_url, alice_id, other),
    ]
    for tab in alice:
        await online(tab)
    leader = await one_leader(alice)
    await expect(leader.locator("#tab-role")).to_have_text("this tab holds the connection")
    await connections_are(gateway_url, websocket=1, sse=1)

    bob = await users.tab(gateway_url, bob_id, lobby)  # another user: a connection of his own
    await online(bob)
    await expect(bob.locator("#tab-role")).to_have_attribute("data-role", "leader")
    await connections_are(gateway_url, websocket=2, sse=2)

    # each frame reaches the tabs of its room, once; the other room's tab gets none of it
    await say(bob, "hello lobby")
    await say(alice[1], "from a follower tab")
    await say(alice[2], "in the other room")
    lobby_messages = ["hello lobby", "from a follower tab"]
    for tab in (alice[0], alice[1], bob):
        await shows_exactly(tab, lobby_messages)
    await shows_exactly(alice[2], ["in the other room"])
    for tab in alice[:2]:
        assert await counts(tab, "message") == {f"{lobby}/{text}": 1 for text in lobby_messages}
    assert await counts(alice[2], "message") == {f"{other}/in the other room": 1}
    await expect(alice[0].locator("#online li")).to_have_text([alice_id, bob_id], timeout=WAIT_MS)

    # a notification for Alice: once in each of her tabs (over the stream and the socket), none
    # for Bob; and Bob's own reaches only him
    for_alice = await notify(stack["gateway-2"].url, alice_id, "Deployed")
    for_bob = await notify(stack["gateway-2"].url, bob_id, "Lunch?")
    for tab in alice:
        await expect(tab.locator("#toasts .toast", has_text="Deployed")).to_have_count(
            1, timeout=WAIT_MS
        )
        await expect(tab.locator("#inbox li", has_text="Deployed")).to_have_count(1)
    await expect(bob.locator("#toasts .toast", has_text="Lunch?")).to_have_count(1, timeout=WAIT_MS)
    for tab in alice:
        await notified(tab, {for_alice: 1})
    await notified(bob, {for_bob: 1})
    await connections_are(gateway_url, websocket=2, sse=2)
    for n, tab in enumerate(alice):
        await users.screenshot(tab, f"alice-tab-{n}")


@pytest.mark.parametrize("leaving", ["closed", "crashed"])
async def test_when_the_leader_tab_goes_mid_conversation_nothing_is_lost_or_shown_twice(
    stack: Stack, users: Users, gateway_url: str, leaving: str
) -> None:
    room = new_room()
    alice_id, bob_id = new_user("alice"), new_user("bob")
    alice = [await users.tab(gateway_url, alice_id, room) for _ in range(3)]
    for tab in alice:
        await online(tab)
    leader = await one_leader(alice)
    followers = [tab for tab in alice if tab is not leader]
    await connections_are(gateway_url, websocket=1, sse=1)

    async with FrameClient(f"{stack['gateway-2'].ws_url}/chat/{room}?userId={bob_id}") as bob:

        async def bob_says(text: str) -> None:
            await bob.send(chat(text, text))
            await bob.wait_for("ack", acknowledges(text))

        await bob_says("bob 1")
        for tab in alice:
            await shows_exactly(tab, ["bob 1"])

        # mid-conversation: a follower sends, the leader goes, the other follower sends at once,
        # Bob goes on talking and Alice gets a notification, all while the tabs hand over
        await say(followers[0], "just before the leader went")
        if leaving == "closed":
            await leader.close()
        else:
            cdp = await leader.context.new_cdp_session(leader)
            with contextlib.suppress(Exception):  # the answer never comes: the tab is gone
                await asyncio.wait_for(cdp.send("Page.crash"), timeout=5)
        await say(followers[1], "during the hand-over")
        await bob_says("bob 2")
        title = f"While handing over {room}"
        notice = await notify(stack["gateway-2"].url, alice_id, title)
        await bob_says("bob 3")

        new_leader = await one_leader(followers)
        expected = [
            "bob 1",
            "just before the leader went",
            "during the hand-over",
            "bob 2",
            "bob 3",
        ]
        for tab in followers:
            await shows_exactly(tab, expected)
            assert set((await counts(tab, "message")).values()) == {1}
            await notified(tab, {notice: 1})
            await expect(tab.locator("#inbox li", has_text=title)).to_have_count(1)
        # both tabs show the room in the same (seq) order, the order it was stored in
        stored = await stored_history(stack["gateway-2"].url, room, len(expected))
        in_order = [message["payload"]["content"] for message in reversed(stored)]
        assert sorted(in_order) == sorted(expected)  # each stored once
        for tab in followers:
            assert await shown(tab) == in_order
        await connections_are(gateway_url, websocket=1, sse=1)
        await say(new_leader, "after the hand-over")
        await bob.wait_for(
            "chat", lambda frame: frame["payload"]["content"] == "after the hand-over"
        )
        await users.screenshot(new_leader, f"new-leader-after-the-leader-{leaving}")


async def test_a_gateway_restart_brings_one_reconnect_not_three(
    stack: Stack, users: Users, gateway_url: str
) -> None:
    room = new_room()
    alice_id, bob_id = new_user("alice"), new_user("bob")
    gateway = stack["gateway"]
    alice = [await users.tab(gateway_url, alice_id, room) for _ in range(3)]
    bob = await users.tab(stack["gateway-2"].url, bob_id, room)
    for tab in [*alice, bob]:
        await online(tab)
    leader = await one_leader(alice)
    follower = next(tab for tab in alice if tab is not leader)
    await connections_are(gateway_url, websocket=1, sse=1)

    await asyncio.to_thread(gateway.stop)
    for tab in alice:
        await expect(tab.locator("#chat-status")).to_have_attribute(
            "data-status", "reconnecting", timeout=WAIT_MS
        )
    await say(follower, "sent while the gateway was down")  # kept by the tab, sent on reconnect
    await expect(follower.locator("#messages .msg.pending")).to_have_count(1)
    await asyncio.to_thread(gateway.start)
    await asyncio.to_thread(gateway.wait_ready)

    reconnect_ms = int(
        await leader.evaluate("async () => (await import('/js/switchboard.js')).RECONNECT_MAX_MS")
    )
    for tab in alice:
        await online(tab, timeout_ms=reconnect_ms + WAIT_MS)
    for tab in [*alice, bob]:
        await shows_exactly(tab, ["sent while the gateway was down"])
    # the restarted gateway counts from zero: one WebSocket and one stream came back, not three
    await connections_are(gateway_url, websocket=1, sse=1)
    assert (
        await total(gateway_url, "switchboard_gateway_connects_total", transport="websocket") == 1
    )
    assert await total(gateway_url, "switchboard_gateway_connects_total", transport="sse") == 1
    assert await one_leader(alice) is leader


async def test_logging_out_in_one_tab_logs_out_every_tab(users: Users, gateway_url: str) -> None:
    room = new_room()
    alice_id = new_user("alice")
    alice = [await users.tab(gateway_url, alice_id, room) for _ in range(3)]
    for tab in alice:
        await online(tab)
    leader = await one_leader(alice)
    follower = next(tab for tab in alice if tab is not leader)
    await connections_are(gateway_url, websocket=1, sse=1)
    await follower.click("#logout")
    for tab in alice:
        await expect(tab.locator("#tab-role")).to_have_attribute(
            "data-role", "closed", timeout=WAIT_MS
        )
        await expect(tab.locator("#chat-status")).to_have_attribute("data-status", "closed")
    await connections_are(gateway_url, websocket=0, sse=0)


async def test_a_leader_tab_about_to_be_frozen_hands_the_connection_over(
    users: Users, gateway_url: str
) -> None:
    """Chromium freezes background tabs, after a ``freeze`` event: a frozen tab runs no code, so
    it gives up the lead on that event and queues for it again on ``resume``. Headless Chromium
    does not freeze a page on ``Page.setWebLifecycleState`` (its timers kept running), so the
    test sends the page the two events the browser would."""
    room = new_room()
    alice_id = new_user("alice")
    alice = [await users.tab(gateway_url, alice_id, room) for _ in range(2)]
    for tab in alice:
        await online(tab)
    leader = await one_leader(alice)
    other = next(tab for tab in alice if tab is not leader)
    await leader.evaluate("() => document.dispatchEvent(new Event('freeze'))")
    await expect(other.locator("#tab-role")).to_have_attribute(
        "data-role", "leader", timeout=WAIT_MS
    )
    await online(other)
    await say(other, "while the first tab sleeps")
    await shows_exactly(other, ["while the first tab sleeps"])
    await connections_are(gateway_url, websocket=1, sse=1)
    await leader.evaluate("() => document.dispatchEvent(new Event('resume'))")
    await expect(leader.locator("#tab-role")).to_have_attribute(
        "data-role", "follower", timeout=WAIT_MS
    )
    await shows_exactly(leader, ["while the first tab sleeps"])
    await say(leader, "awake again")
    for tab in alice:
        await shows_exactly(tab, ["while the first tab sleeps", "awake again"])
    await connections_are(gateway_url, websocket=1, sse=1)


async def test_with_sharing_turned_off_each_tab_has_its_own_connection(
    users: Users, gateway_url: str
) -> None:
    room = new_room()
    alice_id = new_user("alice")
    alice = [await users.tab(gateway_url, alice_id, room, share="off") for _ in range(2)]
    for tab in alice:
        await online(tab)
        await expect(tab.locator("#tab-role")).to_have_attribute("data-role", "alone")
    await connections_are(gateway_url, websocket=2, sse=2)
    await say(alice[0], "each on its own")
    for tab in alice:
        await shows_exactly(tab, ["each on its own"])


# Two tabs on gateway-auth, each with a SharedClient of its own page (no demo: it has no token).
OPEN_CLIENT = """async ([token, room]) => {
  const { SharedClient } = await import("/js/switchboard.js");
  const client = new SharedClient({ token });
  globalThis.client = client;
  globalThis.got = { auth: 0, messages: [] };
  client.addEventListener("auth", () => { globalThis.got.auth += 1; });
  client.addEventListener("message", (e) => globalThis.got.messages.push(e.detail.payload.content));
  client.connect();
  client.join(room);
}"""


async def test_a_token_renewed_in_one_tab_reaches_every_tab_and_the_open_socket(
    stack: Stack, users: Users
) -> None:
    gateway = stack["gateway-auth"].url
    await connections_are(gateway, websocket=0, sse=0)
    room, user = new_room(), new_user("erin")
    first = mint(user, ttl=6)
    tabs = []
    for _ in range(2):
        tab = await users.blank(gateway, user)
        await tab.evaluate(OPEN_CLIENT, [first, room])
        tabs.append(tab)

    async def role(tab: Page) -> str:
        return str(await tab.evaluate("() => globalThis.client.role"))

    async def check() -> bool:
        return sorted([await role(tab) for tab in tabs]) == ["follower", "leader"]

    await until(check, "one leader tab", timeout=WAIT_S)
    leader, follower = (tabs[0], tabs[1]) if await role(tabs[0]) == "leader" else tabs[::-1]

    async def socket_open() -> bool:
        return bool(await leader.evaluate("() => globalThis.client.status === 'open'"))

    await until(socket_open, "the leader's socket open", timeout=WAIT_S)
    renewed = mint(user, ttl=300)
    await follower.evaluate("(token) => globalThis.client.setToken(token)", renewed)
    for tab in tabs:
        assert await tab.evaluate("() => globalThis.client.token") == renewed

    async def extended() -> bool:
        return bool(await leader.evaluate("() => globalThis.got.auth === 1"))

    await until(extended, "the gateway's answer to the leader's auth frame", timeout=WAIT_S)
    # past the first token's expiry (nothing to wait for but time): the socket was not closed
    await asyncio.sleep(7)
    assert await leader.evaluate("() => globalThis.client.status") == "open"
    assert await total(gateway, "switchboard_gateway_connects_total", transport="websocket") == 1
    await connections_are(gateway, websocket=1, sse=1)
    # the leader goes: the follower connects with the renewed token (the first has expired)
    await leader.close()

    async def follower_leads() -> bool:
        return bool(
            await follower.evaluate(
                "() => globalThis.client.role === 'leader' && globalThis.client.status === 'open'"
            )
        )

    await until(follower_leads, "the follower leading, connected", timeout=WAIT_S)
    await follower.evaluate("(room) => globalThis.client.send(room, 'renewed and resumed')", room)

    async def delivered() -> bool:
        got: list[str] = await follower.evaluate("() => globalThis.got.messages")
        return got == ["renewed and resumed"]

    await until(delivered, "the follower's message, delivered once", timeout=WAIT_S)
