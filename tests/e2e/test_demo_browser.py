"""The demo page in a real browser (Debian's Chromium, driven by Playwright): chat between two
browser contexts, older messages on scroll, the live dashboard, and the page surviving a gateway
restart. Screenshots land in each test's artifacts folder.
"""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import nats
import pytest
import pytest_asyncio
from playwright.async_api import (
    Browser,
    BrowserContext,
    Locator,
    Page,
    async_playwright,
    expect,
)
from switchboard_contracts import subjects
from switchboard_contracts.dashboard import LogRecord
from switchboard_devstack import Stack
from switchboard_devstack.browser import CHROMIUM, CHROMIUM_ARGS, needs_chromium
from switchboard_devstack.chatframes import acknowledges, new_room, stored_history
from switchboard_devstack.fixtures import ALL_SERVICES, stack_fixture
from switchboard_devstack.stores import Stores
from switchboard_devstack.wsclient import FrameClient

pytestmark = [pytest.mark.e2e, needs_chromium]

WAIT_MS = 15_000
HIDDEN_PAGE = "Object.defineProperty(document, 'visibilityState', {get: () => 'hidden'});"


stack = stack_fixture("e2e-demo-browser", *ALL_SERVICES, "gateway-2")


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


class Pages:
    """Browser contexts (separate users) opened by a test, with their console errors."""

    def __init__(self, browser: Browser, artifacts: Path) -> None:
        self._browser = browser
        self._artifacts = artifacts
        self._contexts: list[BrowserContext] = []
        self.errors: list[str] = []

    async def open(
        self, base_url: str, user: str, room: str, team: str = "ops", *, hidden: bool = False
    ) -> Page:
        """``hidden``: the page reports itself not visible (a background tab), so it marks
        nothing read by itself."""
        context = await self._browser.new_context(viewport={"width": 1400, "height": 900})
        self._contexts.append(context)
        if hidden:
            await context.add_init_script(HIDDEN_PAGE)
        page = await context.new_page()
        page.on("pageerror", lambda error: self.errors.append(f"{user}: {error}"))
        await page.goto(f"{base_url}/?user={user}&room={room}&team={team}")
        return page

    async def screenshot(self, page: Page, name: str) -> None:
        await page.screenshot(path=self._artifacts / f"{name}.png", full_page=True)

    async def close(self) -> None:
        for context in self._contexts:
            await context.close()


@pytest_asyncio.fixture
async def pages(browser: Browser, artifacts_dir: Path) -> AsyncIterator[Pages]:
    pages = Pages(browser, artifacts_dir)
    try:
        yield pages
    finally:
        await pages.close()
    assert not pages.errors, pages.errors


async def online(page: Page, status: str = "#chat-status", timeout_ms: int = WAIT_MS) -> None:
    await expect(page.locator(status)).to_have_attribute("data-status", "open", timeout=timeout_ms)


async def reconnect_max_ms(page: Page) -> int:
    """The longest the page's client waits between two attempts (switchboard.js)."""
    script = "async () => (await import('/js/switchboard.js')).RECONNECT_MAX_MS"
    return int(await page.evaluate(script))


async def say(page: Page, text: str) -> None:
    await page.fill("#chat-input", text)
    await page.press("#chat-input", "Enter")


def message(page: Page, text: str) -> Locator:
    return page.locator("#messages .msg:not(.pending)", has_text=text)


async def chart_points(page: Page, chart: str) -> int:
    return int(await page.locator(chart).get_attribute("data-points") or 0)


async def test_two_browsers_chat_and_see_each_others_messages(stack: Stack, pages: Pages) -> None:
    room = new_room()
    alice = await pages.open(stack["gateway"].url, "alice", room)
    bob = await pages.open(stack["gateway-2"].url, "bob", room)
    await online(alice)
    await online(bob)
    await say(alice, "hello bob <b>not bold</b>")
    await say(bob, "hi alice")
    for page in (alice, bob):
        await expect(message(page, "hello bob <b>not bold</b>")).to_have_count(1, timeout=WAIT_MS)
        await expect(message(page, "hi alice")).to_have_count(1, timeout=WAIT_MS)
    # own messages on one side, the other's on the other
    await expect(message(alice, "hello bob")).to_have_class("msg own")
    await expect(message(alice, "hi alice")).to_have_class("msg")
    await expect(message(bob, "hi alice")).to_have_class("msg own")
    assert await alice.locator("#messages b").count() == 0  # content is text, never markup
    await pages.screenshot(alice, "alice")
    await pages.screenshot(bob, "bob")


async def test_a_message_edited_then_deleted_in_one_browser_changes_in_the_other(
    stack: Stack, pages: Pages
) -> None:
    room = new_room()
    alice = await pages.open(stack["gateway"].url, "alice", room)
    bob = await pages.open(stack["gateway-2"].url, "bob", room)
    await online(alice)
    await online(bob)
    await say(alice, "first draft")
    await say(bob, "not yours to edit")
    await expect(message(alice, "first draft")).to_have_count(1, timeout=WAIT_MS)
    await expect(message(alice, "not yours to edit")).to_have_count(1, timeout=WAIT_MS)
    # only one's own messages offer edit and delete
    assert await message(alice, "not yours to edit").locator("button[data-action]").count() == 0
    own = message(alice, "first draft")
    await own.hover()
    await own.locator("button.edit").click()
    await expect(alice.locator("#chat-input")).to_have_value("first draft")
    await alice.fill("#chat-input", "final words")
    await alice.press("#chat-input", "Enter")
    for page in (alice, bob):
        edited = message(page, "final words")
        await expect(edited).to_have_count(1, timeout=WAIT_MS)
        await expect(edited.locator(".edited")).to_have_text(" (edited)")
        await expect(message(page, "first draft")).to_have_count(0)
    await pages.screenshot(bob, "bob-sees-the-edit")
    await message(alice, "final words").hover()
    await message(alice, "final words").locator("button.delete").click()
    for page in (alice, bob):
        await expect(page.locator("#messages .msg.deleted .content")).to_have_text(
            "message deleted", timeout=WAIT_MS
        )
        await expect(message(page, "final words")).to_have_count(0)
    # a page opened now reads the room's history: the tombstone in its place, the other
    # message as it was, and the edit and delete events shown as nothing of their own
    carol = await pages.open(stack["gateway"].url, "carol", room)
    await online(carol)
    await expect(carol.locator("#messages .msg")).to_have_count(2, timeout=WAIT_MS)
    await expect(carol.locator("#messages .msg .content")).to_have_text(
        ["message deleted", "not yours to edit"]
    )
    await pages.screenshot(carol, "carol-reads-the-history")


async def test_reactions_added_and_taken_back_show_with_their_counts_in_every_browser(
    stack: Stack, pages: Pages
) -> None:
    room = new_room()
    alice = await pages.open(stack["gateway"].url, "alice", room)
    bob = await pages.open(stack["gateway-2"].url, "bob", room)
    await online(alice)
    await online(bob)
    await say(bob, "react to this")
    target = {page: message(page, "react to this") for page in (alice, bob)}
    await expect(target[alice]).to_have_count(1, timeout=WAIT_MS)

    async def click_reaction(page: Page, label: str) -> None:
        await target[page].hover()
        await target[page].locator("button.reaction", has_text=label).click()

    def chip(page: Page) -> Locator:
        return target[page].locator("button.reaction:not(.quick)")

    await click_reaction(alice, "+👍")
    for page in (alice, bob):
        await expect(chip(page)).to_have_text(["👍 1"], timeout=WAIT_MS)
    await expect(chip(alice)).to_have_class("reaction mine")
    await expect(chip(bob)).to_have_class("reaction")
    await click_reaction(bob, "👍 1")  # bob adds his own
    for page in (alice, bob):
        await expect(chip(page)).to_have_text(["👍 2"], timeout=WAIT_MS)
    await pages.screenshot(bob, "bob-sees-two-reactions")
    await click_reaction(alice, "👍 2")  # alice takes hers back
    for page in (alice, bob):
        await expect(chip(page)).to_have_text(["👍 1"], timeout=WAIT_MS)
    await expect(chip(alice)).to_have_class("reaction")
    # a page opened now reads the message's current reactions from the history page
    carol = await pages.open(stack["gateway"].url, "carol", room)
    await online(carol)
    await expect(carol.locator("#messages .msg")).to_have_count(1, timeout=WAIT_MS)
    await expect(carol.locator("#messages .msg button.reaction:not(.quick)")).to_have_text(["👍 1"])


async def test_who_read_a_message_and_the_room_s_unread_count_show_in_the_page(
    stack: Stack, pages: Pages
) -> None:
    room = new_room()
    alice = await pages.open(stack["gateway"].url, "alice", room)
    bob = await pages.open(stack["gateway-2"].url, "bob", room)
    await online(alice)
    await online(bob)
    await say(alice, "did you read this?")
    await expect(message(bob, "did you read this?")).to_have_count(1, timeout=WAIT_MS)
    # bob's page is seen, so it marks the room read; alice's message says so
    seen = message(alice, "did you read this?").locator(".seen")
    await expect(seen).to_have_text("seen by bob", timeout=WAIT_MS)
    await expect(alice.locator("#room-unread")).to_be_hidden()
    # carol's tab is in the background: the room's unread count shows, and grows
    carol = await pages.open(stack["gateway"].url, "carol", room, hidden=True)
    await online(carol)
    await expect(carol.locator("#room-unread")).to_have_text("1", timeout=WAIT_MS)
    await say(bob, "yes")
    await expect(carol.locator("#room-unread")).to_have_text("2", timeout=WAIT_MS)
    await pages.screenshot(carol, "carol-has-two-unread")
    await carol.click("#mark-room-read")
    await expect(carol.locator("#room-unread")).to_be_hidden(timeout=WAIT_MS)
    await expect(seen).to_have_text("seen by bob, carol", timeout=WAIT_MS)
    await expect(message(bob, "yes").locator(".seen")).to_have_text(
        "seen by alice, carol", timeout=WAIT_MS
    )


async def test_the_rooms_list_shows_each_room_s_unread_count(stack: Stack, pages: Pages) -> None:
    here, elsewhere = new_room(), new_room()
    async with httpx.AsyncClient(base_url=stack["gateway"].url, timeout=10) as http:
        for room in (here, elsewhere):
            created = await http.post("/api/rooms?userId=bob", json={"id": room, "name": room})
            assert created.status_code == 201, created.text
    async with FrameClient(f"{stack['gateway-2'].ws_url}/chat/{elsewhere}?userId=bob") as bob:
        for n in range(3):
            await bob.send({"type": "chat", "payload": {"content": f"b{n}", "clientMsgId": f"{n}"}})
            await bob.wait_for("ack", acknowledges(str(n)))
    alice = await pages.open(stack["gateway"].url, "alice", here)
    await online(alice)
    other = alice.locator(f'#rooms li[data-room="{elsewhere}"]')
    await expect(other.locator(".badge")).to_have_text("3", timeout=WAIT_MS)
    await expect(alice.locator(f'#rooms li[data-room="{here}"]')).to_have_class("current")
    await expect(alice.locator(f'#rooms li[data-room="{here}"] .badge')).to_be_hidden()
    await pages.screenshot(alice, "rooms-with-unread")
    await other.locator("a").click()  # the other room: its messages, then read
    await online(alice)
    await expect(message(alice, "b2")).to_have_count(1, timeout=WAIT_MS)
    await expect(alice.locator(f'#rooms li[data-room="{elsewhere}"] .badge')).to_be_hidden(
        timeout=WAIT_MS
    )


async def test_typing_indicator_and_online_users_show_the_other_browser(
    stack: Stack, pages: Pages
) -> None:
    room = new_room()
    alice = await pages.open(stack["gateway"].url, "alice", room)
    bob = await pages.open(stack["gateway-2"].url, "bob", room)
    await online(alice)
    await online(bob)
    await expect(alice.locator("#online li")).to_have_text(["alice", "bob"], timeout=WAIT_MS)
    await bob.type("#chat-input", "still typ")
    await expect(alice.locator("#typing")).to_have_text("bob is typing…", timeout=WAIT_MS)
    await pages.screenshot(alice, "alice-sees-bob-typing")
    await bob.press("#chat-input", "Enter")
    await expect(alice.locator("#typing")).to_have_text("", timeout=WAIT_MS)


async def test_older_messages_load_when_the_list_is_scrolled_to_the_top(
    stack: Stack, pages: Pages
) -> None:
    room = new_room()
    # two connections, each within the per-connection burst (CLIENT_FRAME_BURST, 40)
    for batch in (range(23), range(23, 45)):
        async with FrameClient(f"{stack['gateway'].ws_url}/chat/{room}?userId=carol") as carol:
            for n in batch:
                await carol.send(
                    {"type": "chat", "payload": {"content": f"m{n}", "clientMsgId": f"{n}"}}
                )
                await carol.wait_for("ack", acknowledges(str(n)))
    await stored_history(stack["gateway"].url, room, 45)
    alice = await pages.open(stack["gateway"].url, "alice", room)
    await online(alice)
    await expect(alice.locator("#messages .msg")).to_have_count(30, timeout=WAIT_MS)
    await expect(alice.locator("#messages .msg").first).to_contain_text("m15")
    await alice.locator("#messages").evaluate("el => el.scrollTop = 0")
    await expect(alice.locator("#messages .msg")).to_have_count(45, timeout=WAIT_MS)
    await expect(alice.locator("#messages .msg").first).to_contain_text("m0")
    await expect(alice.locator("#history-status")).to_have_text("the beginning of the room")
    await pages.screenshot(alice, "history")


async def test_a_notification_sent_through_the_api_shows_as_a_toast_and_in_the_inbox(
    stack: Stack, pages: Pages
) -> None:
    alice = await pages.open(stack["gateway"].url, "alice", new_room())
    await online(alice, "#notify-status")
    async with httpx.AsyncClient(base_url=stack["gateway-2"].url, timeout=10) as http:
        response = await http.post(
            "/api/notifications/send",
            json={
                "userId": "alice",
                "type": "success",
                "title": "Deployed",
                "message": "v2 is out",
            },
        )
    assert response.status_code == 200, response.text
    await expect(alice.locator("#toasts .toast", has_text="Deployed")).to_be_visible(
        timeout=WAIT_MS
    )
    await expect(alice.locator("#inbox li.unread", has_text="Deployed")).to_have_count(1)
    await expect(alice.locator("#unread-badge")).to_have_text("1")
    await pages.screenshot(alice, "toast-and-inbox")
    await alice.locator("#inbox li", has_text="Deployed").click()
    await expect(alice.locator("#unread-badge")).to_be_hidden(timeout=WAIT_MS)


async def test_the_form_sends_a_notification_to_another_user(stack: Stack, pages: Pages) -> None:
    alice = await pages.open(stack["gateway"].url, "alice", new_room())
    bob = await pages.open(stack["gateway-2"].url, "bob", new_room())
    await online(bob, "#notify-status")
    await alice.fill("#notify-user", "bob")
    await alice.fill("#notify-title", "Lunch?")
    await alice.fill("#notify-message", "at noon")
    await alice.click("#notify-send")
    await expect(alice.locator("#notify-result")).to_have_text("sent", timeout=WAIT_MS)
    await expect(bob.locator("#toasts .toast", has_text="Lunch?")).to_be_visible(timeout=WAIT_MS)


async def test_dashboard_charts_update_every_second(stack: Stack, pages: Pages) -> None:
    page = await pages.open(stack["gateway"].url, "dana", new_room())
    await online(page, "#dash-status")
    charts = ["#chart-cpu", "#chart-memory", "#chart-disk", "#chart-connections", "#chart-rps"]
    for chart in charts:
        await expect(page.locator(chart)).to_have_attribute("data-points", "3", timeout=WAIT_MS)
    await expect(page.locator(charts[0])).to_have_attribute("data-points", "5", timeout=WAIT_MS)
    assert float(await page.locator("#chart-memory").get_attribute("data-latest") or 0) > 0
    assert float(await page.locator("#chart-connections").get_attribute("data-latest") or 0) >= 1
    await expect(page.locator("#figures")).to_contain_text("uptime")
    await pages.screenshot(page, "dashboard")


async def test_the_log_tail_filters_by_level_and_source(
    stack: Stack, pages: Pages, stores: Stores
) -> None:
    page = await pages.open(stack["gateway"].url, "dana", new_room())
    await online(page, "#dash-status")
    await expect(page.locator("#chart-cpu")).to_have_attribute("data-points", "2", timeout=WAIT_MS)
    nc = await nats.connect(stores.nats_url)
    try:
        for level, source in (("info", "chat"), ("error", "chat"), ("error", "persistence")):
            record = LogRecord.model_validate(
                {
                    "level": level,
                    "message": f"{level} from {source}",
                    "source": source,
                    "instance": "t",
                    "timestamp": 1764150000000,
                }
            )
            await nc.publish(subjects.logs_record(source), record.encode())
    finally:
        await nc.drain()
    logs = page.locator("#logs li", has_text=" from ")
    await expect(logs).to_have_count(3, timeout=WAIT_MS)
    await page.select_option("#log-level", "error")
    await expect(logs).to_have_count(2)
    await page.select_option("#log-source", "chat")
    await expect(logs).to_have_count(1)
    await expect(logs).to_contain_text("error from chat")
    await pages.screenshot(page, "log-tail")


async def test_the_page_keeps_working_after_the_gateway_restarts(
    stack: Stack, pages: Pages
) -> None:
    """Alice's page is served by the gateway that restarts; Bob's by the other one. Alice sends
    while her gateway is down, Bob sends meanwhile too; after the restart both see everything."""
    room = new_room()
    gateway = stack["gateway"]
    alice = await pages.open(gateway.url, "alice", room)
    bob = await pages.open(stack["gateway-2"].url, "bob", room)
    await online(alice)
    await online(bob)
    await online(alice, "#dash-status")
    await say(alice, "before the restart")
    await expect(message(bob, "before the restart")).to_have_count(1, timeout=WAIT_MS)

    await asyncio.to_thread(gateway.stop)
    await expect(alice.locator("#chat-status")).to_have_attribute(
        "data-status", "reconnecting", timeout=WAIT_MS
    )
    await pages.screenshot(alice, "alice-while-the-gateway-is-down")
    await say(alice, "sent while offline")  # queued by the client, sent on reconnect
    await expect(alice.locator("#messages .msg.pending")).to_have_count(1)
    await say(bob, "said during the restart")
    await expect(message(bob, "said during the restart")).to_have_count(1, timeout=WAIT_MS)
    await stored_history(stack["gateway-2"].url, room, 2)  # so that Alice's page can fetch it
    points_before = await chart_points(alice, "#chart-cpu")

    await asyncio.to_thread(gateway.start)
    await asyncio.to_thread(gateway.wait_ready)
    # The page's next attempt may be up to one backoff step away, however long the gateway was down.
    await online(alice, timeout_ms=await reconnect_max_ms(alice) + WAIT_MS)
    await expect(message(alice, "said during the restart")).to_have_count(1, timeout=WAIT_MS)
    await expect(message(alice, "sent while offline")).to_have_count(1, timeout=WAIT_MS)
    await expect(alice.locator("#messages .msg.pending")).to_have_count(0)
    await expect(message(bob, "sent while offline")).to_have_count(1, timeout=WAIT_MS)
    contents = await alice.locator("#messages .msg .content").all_text_contents()
    assert contents == ["before the restart", "said during the restart", "sent while offline"]
    await online(alice, "#dash-status")
    await expect(alice.locator("#chart-cpu")).not_to_have_attribute(
        "data-points", str(points_before), timeout=WAIT_MS
    )
    await say(alice, "after the restart")
    await expect(message(bob, "after the restart")).to_have_count(1, timeout=WAIT_MS)
    await pages.screenshot(alice, "alice-after-the-restart")
    await pages.screenshot(bob, "bob-after-the-restart")
