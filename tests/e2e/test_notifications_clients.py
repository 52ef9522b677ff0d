"""SSE clients the project did not write: the npm ``eventsource`` package (on the machine's
Node.js) and a browser ``EventSource`` in headless Chromium. Both reconnect on their own with
``Last-Event-ID``; a gateway restart mid-stream must cost them nothing."""

import asyncio
import contextlib
import json
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import pytest
from playwright.async_api import ConsoleMessage, Page, async_playwright
from switchboard_devstack import Stack
from switchboard_devstack.browser import CHROMIUM, CHROMIUM_ARGS, needs_chromium
from switchboard_devstack.fixtures import ALL_SERVICES, notify_api_fixture, stack_fixture
from switchboard_devstack.names import new_user
from switchboard_devstack.notifyhttp import NotifyHttp, stream_url

pytestmark = pytest.mark.e2e

JS_DIR = Path(__file__).parent / "js"

needs_node = pytest.mark.skipif(
    shutil.which("node") is None or not (JS_DIR / "node_modules" / "eventsource").exists(),
    reason="needs Node.js and `npm ci` in tests/e2e/js (run `make setup`)",
)


# quick reconnects and a quick graceful stop keep the restart tests short
stack = stack_fixture(
    "e2e-notifications-clients",
    *ALL_SERVICES,
    "gateway-b",
    env={"SSE_RETRY_MS": "300", "SHUTDOWN_TIMEOUT_SECONDS": "2"},
)
api = notify_api_fixture("gateway-b")


async def restart_while_sending(
    stack: Stack, label: str, api: NotifyHttp, user: str, titles: list[str]
) -> None:
    """Stop the gateway (SIGTERM, as Kubernetes does); send the first titles while it is down
    and the rest while it starts again on the same port and its clients reconnect."""
    handle = stack[label]
    await asyncio.to_thread(handle.stop)
    half = len(titles) // 2
    for title in titles[:half]:
        await api.send(user, title)
    handle.start()
    for title in titles[half:]:
        await api.send(user, title)
    await asyncio.to_thread(handle.wait_ready)


class NodeEventSource:
    """``tests/e2e/js/sse_probe.mjs``: the npm package's EventSource, one JSON line per event."""

    def __init__(self, url: str, log_file: Path) -> None:
        self.url = url
        self.lines: list[dict[str, Any]] = []
        self._log_file = log_file
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._arrived = asyncio.Condition()

    async def __aenter__(self) -> Self:
        with self._log_file.open("ab") as stderr:  # the child keeps its own descriptor
            self._process = await asyncio.create_subprocess_exec(
                "node",
                str(JS_DIR / "sse_probe.mjs"),
                self.url,
                cwd=JS_DIR,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=stderr,
            )
        self._reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._process is not None
        assert self._process.stdin is not None
        self._process.stdin.close()
        try:
            await asyncio.wait_for(self._process.wait(), 10)
        except TimeoutError:
            self._process.kill()
            await self._process.wait()
        if self._reader is not None:
            await self._reader
        with self._log_file.open("a") as log:
            log.writelines(json.dumps(line) + "\n" for line in self.lines)

    async def _read(self) -> None:
        assert self._process is not None
        assert self._process.stdout is not None
        async for raw in self._process.stdout:
            async with self._arrived:
                self.lines.append(json.loads(raw))
                self._arrived.notify_all()

    def events(self, kind: str) -> list[dict[str, Any]]:
        return [line for line in self.lines if line.get("type") == kind]

    async def wait_until(self, condition: Callable[[], bool], timeout: float = 20.0) -> None:
        async with asyncio.timeout(timeout), self._arrived:
            while not condition():
                await self._arrived.wait()


@needs_node
async def test_the_npm_eventsource_client_receives_notifications_with_their_cursor_ids(
    stack: Stack, api: NotifyHttp, artifacts_dir: Path
) -> None:
    user = new_user("c")
    async with NodeEventSource(
        stream_url(stack["gateway"].url, user), artifacts_dir / "node.log"
    ) as client:
        await client.wait_until(lambda: bool(client.events("ready")))
        sent = [await api.send(user, f"n{n}", message="line one\nline two") for n in range(3)]
        await client.wait_until(lambda: len(client.events("notification")) == 3)
    got = client.events("notification")
    assert [e["data"]["id"] for e in got] == [s["notificationId"] for s in sent]
    assert [e["id"] for e in got] == [str(s["cursor"]) for s in sent]
    assert got[0]["data"]["message"] == "line one\nline two"  # multi-line data survives


@needs_node
async def test_a_gateway_restart_mid_stream_loses_nothing_for_the_npm_client(
    stack: Stack, api: NotifyHttp, artifacts_dir: Path
) -> None:
    user = new_user("c")
    async with NodeEventSource(
        stream_url(stack["gateway"].url, user), artifacts_dir / "node.log"
    ) as client:
        await client.wait_until(lambda: bool(client.events("ready")))
        for n in range(3):
            await api.send(user, f"before-{n}")
        await client.wait_until(lambda: len(client.events("notification")) == 3)
        # sent through gateway B while gateway A is down, then while it comes back
        await restart_while_sending(stack, "gateway", api, user, [f"during-{n}" for n in range(4)])
        await api.send(user, "after")
        await client.wait_until(lambda: len(client.events("notification")) >= 8)
    titles = [e["data"]["title"] for e in client.events("notification")]
    assert titles == [
        *(f"before-{n}" for n in range(3)),
        *(f"during-{n}" for n in range(4)),
        "after",
    ]
    ids = [int(e["id"]) for e in client.events("notification")]
    assert ids == sorted(set(ids))  # each once, in order
    assert ids == [e["data"]["cursor"] for e in client.events("notification")]
    assert any(line["kind"] == "error" for line in client.lines)  # it did lose the connection


async def browser_page(artifacts_dir: Path) -> AsyncIterator[Page]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = await browser.new_page()
            console = (artifacts_dir / "browser-console.log").open("a")

            def record(message: ConsoleMessage) -> None:
                console.write(f"{message.type}: {message.text}\n")

            page.on("console", record)
            try:
                yield page
            finally:
                with contextlib.suppress(Exception):
                    await page.screenshot(path=str(artifacts_dir / "browser.png"))
                console.close()
        finally:
            await browser.close()


@pytest.fixture
async def page(artifacts_dir: Path) -> AsyncIterator[Page]:
    async for opened in browser_page(artifacts_dir):
        yield opened


OPEN_EVENT_SOURCE = """(url) => {
  window.got = [];
  window.source = new EventSource(url);
  for (const type of ["ready", "notification", "unread", "reset"]) {
    window.source.addEventListener(type, (e) =>
      window.got.push({type, id: e.lastEventId, data: JSON.parse(e.data)}));
  }
  window.source.onerror = () => window.got.push({type: "error"});
}"""


def count(kind: str) -> str:
    return f"window.got.filter(e => e.type === '{kind}').length"


@needs_chromium
async def test_a_browser_event_source_receives_notifications_and_unread_counts(
    stack: Stack, api: NotifyHttp, page: Page
) -> None:
    user = new_user("c")
    await page.goto(f"{stack['gateway'].url}/")
    await page.evaluate(OPEN_EVENT_SOURCE, f"/api/notifications/stream?userId={user}")
    await page.wait_for_function(f"{count('ready')} === 1", timeout=15_000)
    sent = [await api.send(user, f"n{n}", kind="error") for n in range(2)]
    await page.wait_for_function(f"{count('notification')} === 2", timeout=15_000)
    await api.read(user, sent[0]["notificationId"])
    await page.wait_for_function(f"{count('unread')} === 1", timeout=15_000)
    got = await page.evaluate("window.got")
    notifications = [e for e in got if e["type"] == "notification"]
    assert [e["data"]["title"] for e in notifications] == ["n0", "n1"]
    assert [e["id"] for e in notifications] == [str(s["cursor"]) for s in sent]
    assert [e["data"]["unreadCount"] for e in got if e["type"] == "unread"] == [1]


@needs_chromium
async def test_a_browser_resumes_after_a_gateway_restart_with_last_event_id(
    stack: Stack, api: NotifyHttp, page: Page
) -> None:
    user = new_user("c")
    await page.goto(f"{stack['gateway'].url}/")
    await page.evaluate(OPEN_EVENT_SOURCE, f"/api/notifications/stream?userId={user}")
    await page.wait_for_function(f"{count('ready')} === 1", timeout=15_000)
    await api.send(user, "before")
    await page.wait_for_function(f"{count('notification')} === 1", timeout=15_000)
    await restart_while_sending(stack, "gateway", api, user, [f"during-{n}" for n in range(3)])
    await api.send(user, "after")
    await page.wait_for_function(f"{count('notification')} >= 5", timeout=30_000)
    got = await page.evaluate("window.got")
    notifications = [e for e in got if e["type"] == "notification"]
    assert [e["data"]["title"] for e in notifications] == [
        "before",
        "during-0",
        "during-1",
        "during-2",
        "after",
    ]
    ids = [int(e["id"]) for e in notifications]
    assert ids == sorted(set(ids))  # each once, in order
    assert ids == [e["data"]["cursor"] for e in notifications]
    assert any(e["type"] == "error" for e in got)  # the browser saw the connection drop
