// One connection for all of a user's tabs (issue 22), without a browser: the routing table and
// the dedupe log alone, then SharedClients in "tabs" joined by fake Web Locks and a fake
// BroadcastChannel, over fake sockets and event sources.
// Run by services/gateway/tests/test_js_client.py (node --test).
import assert from "node:assert/strict";
import test from "node:test";

import {
  ROOM_EVENTS,
  SeenLog,
  SharedClient,
  TabRouter,
  channelName,
  userOfToken,
} from "../../src/switchboard_gateway/static/js/switchboard.js";

// -- the pure parts

test("only the room's event types are room events, whatever Object's prototype holds", () => {
  assert.equal(ROOM_EVENTS.chat, "message");
  assert.equal(ROOM_EVENTS.unreact, "unreact");
  for (const name of ["constructor", "toString", "__proto__", "hasOwnProperty"]) {
    assert.equal(ROOM_EVENTS[name], undefined, name);
  }
});

test("the first tab to want a room joins it; the last to leave leaves it", () => {
  const router = new TabRouter();
  assert.deepEqual(router.want("a", "r1", null, 0), [{ join: "r1", since: null }]);
  assert.deepEqual(router.want("b", "r1", null, 0), []);
  assert.deepEqual(router.want("c", "r2", null, 0), [{ join: "r2", since: null }]);
  assert.deepEqual(router.rooms().sort(), ["r1", "r2"]);
  assert.deepEqual(router.unwant("a", "r1"), []);
  assert.deepEqual(router.unwant("b", "r1"), [{ leave: "r1" }]);
  assert.deepEqual(router.unwant("b", "r1"), []); // not wanted twice
  assert.deepEqual(router.rooms(), ["r2"]);
});

test("a frame about a room goes only to the tabs in it; the user's own frames to all", () => {
  const router = new TabRouter();
  router.want("a", "r1", null, 0);
  router.want("b", "r1", null, 0);
  router.want("c", "r2", null, 0);
  assert.deepEqual(router.route({ type: "chat", room: "r1", seq: 1 }).to, ["a", "b"]);
  assert.deepEqual(router.route({ type: "presence", room: "r2", payload: {} }).to, ["c"]);
  assert.deepEqual(router.route({ type: "replay", payload: { room: "r2" } }).to, ["c"]);
  assert.equal(router.route({ type: "notification", payload: { id: "n1" } }).to, "all");
  assert.equal(router.route({ type: "unread", payload: { unreadCount: 1 } }).to, "all");
  // an error about a message: every tab, the sender knows its clientMsgId; about a room: its tabs
  assert.equal(router.route({ type: "error", payload: { code: "x", ref: "cmid-1" } }).to, "all");
  assert.deepEqual(router.route({ type: "error", payload: { code: "x", ref: "r2" } }).to, ["c"]);
  assert.deepEqual(router.route({ type: "chat", room: "nobody", seq: 1 }).to, []);
});

test("a room resumes from the oldest seq its tabs saw, then from the newest routed", () => {
  const router = new TabRouter();
  router.hello("a", { rooms: { r1: 7, r2: null } }, 0);
  router.hello("b", { rooms: { r1: 5 } }, 0);
  assert.equal(router.since("r1"), 5); // no tab misses 6 and 7; each drops what it saw
  assert.equal(router.since("r2"), null);
  router.route({ type: "chat", room: "r1", seq: 9 });
  router.route({ type: "chat", room: "r1", seq: 8 });
  assert.equal(router.since("r1"), 9); // every tab of r1 got 9
  router.want("c", "r1", 2, 0);
  assert.equal(router.since("r1"), 9); // a late tab fills its own gap from history
  router.unwant("a", "r1");
  router.unwant("b", "r1");
  router.unwant("c", "r1");
  assert.equal(router.since("r1"), null);
});

test("the stream resumes from the oldest cursor a tab reported", () => {
  const router = new TabRouter();
  router.hello("a", { lastEventId: "12" }, 0);
  router.hello("b", { lastEventId: "9" }, 0);
  router.hello("c", { lastEventId: null }, 0);
  assert.equal(router.lastEventId(), "9");
});

test("a tab that answered no ping is dropped with the rooms only it wanted", () => {
  const router = new TabRouter();
  router.want("leader", "r1", null, 0);
  router.want("gone", "r1", null, 0);
  router.want("gone", "r2", null, 0);
  router.want("alive", "r3", null, 0);
  router.beat("alive", 150); // answered the ping sent at 100
  const { tabs, actions } = router.expire(100, "leader");
  assert.deepEqual(tabs, ["gone"]);
  assert.deepEqual(actions, [{ leave: "r2" }]);
  assert.deepEqual(router.rooms().sort(), ["r1", "r3"]);
});

test("a tab shows each message and notification once, and knows where it stands", () => {
  const seen = new SeenLog();
  assert.equal(seen.accept({ id: "m1", room: "r1", seq: 1 }), true);
  assert.equal(seen.accept({ id: "m1", room: "r1", seq: 1 }), false);
  assert.equal(seen.accept({ id: "m3", room: "r1", seq: 3 }), true);
  assert.equal(seen.accept({ id: "m2", room: "r1", seq: 2 }), true); // a gap filled later
  assert.equal(seen.seq("r1"), 3);
  assert.equal(seen.seq("r2"), null);
  assert.equal(seen.acceptNotification({ id: "n1", cursor: 4 }, null), true); // over the socket
  assert.equal(seen.lastEventId, null); // only the stream's ids move the resume point
  assert.equal(seen.acceptNotification({ id: "n1", cursor: 4 }, "4"), false); // and the stream
  assert.equal(seen.lastEventId, "4");
  seen.cursor("3");
  assert.equal(seen.lastEventId, "4");
  seen.cursor("1", { reset: true });
  assert.equal(seen.lastEventId, "1");
});

function jwt(claims) {
  const part = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part({ alg: "HS256" })}.${part({ exp: 2e9, ...claims })}.signature`;
}

test("tabs share by the user the token names, read without verifying it", () => {
  assert.equal(userOfToken(jwt({ sub: "alice-ü_1" })), "alice-ü_1");
  assert.equal(userOfToken("not a token"), null);
  assert.equal(userOfToken(jwt({ name: "no sub" })), null);
  assert.equal(channelName("alice"), "switchboard:alice");
});

// -- tabs of one browser, faked

/** Web Locks of one origin: one holder per name, the others queued; a crashed tab's lock goes
 * to the next in the queue although its callback never ends. */
class FakeLocks {
  constructor() {
    this.queues = new Map(); // name -> [{tab, callback, resolve, reject}]
  }

  forTab(tab) {
    return { request: (name, options, callback) => this.request(tab, name, options, callback) };
  }

  request(tab, name, { signal } = {}, callback) {
    return new Promise((resolve, reject) => {
      const entry = { tab, callback, resolve, reject, held: false };
      const queue = this.queues.get(name) ?? [];
      this.queues.set(name, queue);
      queue.push(entry);
      signal?.addEventListener("abort", () => {
        if (entry.held || !queue.includes(entry)) return;
        queue.splice(queue.indexOf(entry), 1);
        reject(new Error("AbortError"));
      });
      this._grant(name);
    });
  }

  _grant(name) {
    const queue = this.queues.get(name);
    const next = queue?.[0];
    if (!next || next.held) return;
    next.held = true;
    Promise.resolve(next.callback()).then(() => this._release(name, next), () => this._release(name, next));
  }

  _release(name, entry) {
    const queue = this.queues.get(name);
    if (!queue.includes(entry)) return;
    queue.splice(queue.indexOf(entry), 1);
    entry.resolve();
    this._grant(name);
  }

  /** The browser drops what a crashed tab held or waited for. */
  crash(tab) {
    for (const [name, queue] of this.queues) {
      for (const entry of [...queue]) if (entry.tab === tab) this._release(name, entry);
    }
  }
}

/** BroadcastChannels of one origin: a message goes, later, to every other open channel. */
class FakeBus {
  constructor() {
    this.open = new Set();
  }

  forTab(tab) {
    const bus = this;
    return class {
      constructor(name) {
        Object.assign(this, { name, tab, onmessage: null });
        bus.open.add(this);
      }
      postMessage(msg) {
        const copy = structuredClone(msg);
        for (const other of bus.open) {
          if (other !== this && other.name === this.name) {
            setImmediate(() => { if (bus.open.has(other)) other.onmessage?.({ data: copy }); });
          }
        }
      }
      close() {
        bus.open.delete(this);
      }
    };
  }

  crash(tab) {
    for (const channel of [...this.open]) if (channel.tab === tab) this.open.delete(channel);
  }
}

class FakeSocket {
  static made = [];
  constructor(url) {
    Object.assign(this, { url, readyState: 0, sent: [] });
    FakeSocket.made.push(this);
  }
  send(text) {
    if (this.readyState !== 1) throw new Error("not open");
    this.sent.push(JSON.parse(text));
  }
  close(code = 1000) {
    this.readyState = 3;
    this.onclose?.({ code, reason: "" });
  }
  open() {
    this.readyState = 1;
    this.onopen?.({});
  }
  receive(frame) {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
  ofType(type) {
    return this.sent.filter((frame) => frame.type === type);
  }
}

class FakeEventSource {
  static made = [];
  constructor(url) {
    Object.assign(this, { url, readyState: 0, listeners: new Map(), closed: false });
    FakeEventSource.made.push(this);
  }
  addEventListener(name, fn) {
    this.listeners.set(name, fn);
  }
  emit(name, data, id) {
    this.listeners.get(name)?.({ data: JSON.stringify(data), lastEventId: id });
  }
  close() {
    this.closed = true;
  }
}

const settle = async () => {
  for (let i = 0; i < 10; i += 1) await new Promise((resolve) => setImmediate(resolve));
};

/** A browser: tabs of one origin sharing locks and channels; a clock the test moves. */
class Browser {
  constructor() {
    this.locks = new FakeLocks();
    this.bus = new FakeBus();
    this.clock = 0;
    this.repeats = []; // [{fn, tab}]
    FakeSocket.made = [];
    FakeEventSource.made = [];
  }

  tab(name, options = {}) {
    const client = new SharedClient({
      userId: "alice", base: "http://gateway.test/", tab: name, greetMs: 0,
      locks: this.locks.forTab(name), BroadcastChannelImpl: this.bus.forTab(name),
      socketOptions: { WebSocketImpl: FakeSocket, setTimer: () => 0, clearTimer: () => {} },
      streamOptions: { EventSourceImpl: FakeEventSource, setTimer: () => 0 },
      setTimer: () => 0, setRepeat: (fn) => this.repeats.push({ fn, tab: name }) - 1,
      clearRepeat: (i) => { this.repeats[i] = null; }, now: () => this.clock,
      lifecycle: new EventTarget(), page: null, fetchImpl: null, ...options,
    });
    client.shown = { message: [], notification: [], roles: [] };
    client.addEventListener("message", (e) => client.shown.message.push(e.detail.id));
    client.addEventListener("notification", (e) => client.shown.notification.push(e.detail.id));
    client.addEventListener("role", (e) => client.shown.roles.push(e.detail.role));
    return client;
  }

  /** The leader's heartbeat runs (pings, drops the tabs that did not answer). */
  tick(ms) {
    this.clock += ms;
    for (const repeat of this.repeats) repeat?.fn();
  }

  crash(client) {
    this.bus.crash(client.tab);
    this.locks.crash(client.tab);
    this.repeats = this.repeats.map((r) => (r?.tab === client.tab ? null : r));
  }
}

const chat = (seq, room = "r1", extra = {}) => ({
  type: "chat", id: `m${seq}`, seq, room, senderId: "bob", payload: { content: `m${seq}`, ...extra },
});

async function threeTabs() {
  const browser = new Browser();
  const tabs = ["a", "b", "c"].map((name) => browser.tab(name));
  for (const tab of tabs) tab.connect();
  await settle();
  return { browser, tabs };
}

test("tabs elect one leader, which alone holds a socket and a notification stream", async () => {
  const { tabs } = await threeTabs();
  assert.deepEqual(tabs.map((t) => t.role), ["leader", "follower", "follower"]);
  assert.deepEqual(tabs.map((t) => t.leaderTab), ["a", "a", "a"]);
  assert.equal(FakeSocket.made.length, 1);
  assert.equal(FakeEventSource.made.length, 1);
  assert.match(FakeSocket.made[0].url, /^ws:\/\/gateway\.test\/ws\?userId=alice$/);
  for (const tab of tabs) tab.close();
});

test("the leader joins the union of the tabs' rooms and routes each frame to its tabs", async () => {
  const { tabs: [a, b, c] } = await threeTabs();
  a.join("r1");
  b.join("r1");
  c.join("r2");
  await settle();
  const socket = FakeSocket.made[0];
  socket.open();
  await settle();
  assert.deepEqual(socket.ofType("join").map((f) => f.payload.room).sort(), ["r1", "r2"]);
  socket.receive(chat(1));
  socket.receive(chat(1, "r2", {}));
  socket.receive(chat(2));
  await settle();
  assert.deepEqual(a.shown.message, ["m1", "m2"]);
  assert.deepEqual(b.shown.message, ["m1", "m2"]);
  assert.deepEqual(c.shown.message, ["m1"]); // r2's own m1 (ids are the test's)
  // a notification comes over the socket and the stream: each tab shows it once
  socket.receive({ type: "notification", payload: { id: "n1", title: "t" }, cursor: 1 });
  FakeEventSource.made[0].emit("notification", { id: "n1", title: "t" }, "1");
  await settle();
  for (const tab of [a, b, c]) assert.deepEqual(tab.shown.notification, ["n1"]);
  for (const tab of [a, b, c]) assert.equal(tab.seen.lastEventId, "1");
  // the last tab of a room leaves: the socket leaves it
  c.leave("r2");
  await settle();
  assert.deepEqual(socket.ofType("leave").map((f) => f.payload.room), ["r2"]);
  for (const tab of [a, b, c]) tab.close();
});

test("a tab opened after the stream's ready learns its position from the leader", async () => {
  const browser = new Browser();
  const a = browser.tab("a");
  a.connect();
  await settle();
  FakeEventSource.made[0].emit("ready", { cursor: 4 }, "4");
  const late = browser.tab("late");
  late.connect();
  await settle();
  assert.equal(late.seen.lastEventId, "4"); // without it, a hand-over would start from "now"
  browser.crash(a);
  await settle();
  assert.equal(new URL(FakeEventSource.made[1].url).searchParams.get("lastEventId"), "4");
  late.close();
});

test("a follower's message goes out through the leader's socket with its clientMsgId", async () => {
  const { tabs: [a, b, c] } = await threeTabs();
  b.join("r1");
  await settle();
  const socket = FakeSocket.made[0];
  socket.open();
  await settle();
  const id = b.send("r1", "hello", "alice");
  await settle();
  assert.deepEqual(socket.ofType("chat").map((f) => f.payload.clientMsgId), [id]);
  socket.receive({ type: "ack", payload: { clientMsgId: id, id: "m1", seq: 1, room: "r1" } });
  await settle();
  assert.equal(b.unacked.size, 0);
  for (const tab of [a, b, c]) tab.close();
});

test("a read mark goes out through the leader, never back, and again after a reconnect until answered", async () => {
  const { tabs: [a, b, c] } = await threeTabs();
  b.join("r1");
  await settle();
  const socket = FakeSocket.made[0];
  socket.open();
  await settle();
  const marks = [];
  b.addEventListener("read", (e) => marks.push([e.detail.userId, e.detail.seq]));
  b.markRead("r1", 5);
  b.markRead("r1", 3); // below the last mark sent: nothing
  await settle();
  assert.deepEqual(socket.ofType("read").map((f) => f.payload), [{ room: "r1", seq: 5 }]);
  socket.close(1006); // the gateway went away; the leader's socket reconnects (timer faked)
  await settle();
  a.hub.socket._open(); // the backoff's timer fires
  const again = FakeSocket.made[1];
  again.open();
  await settle();
  assert.deepEqual(again.ofType("read").map((f) => f.payload), [{ room: "r1", seq: 5 }]);
  again.receive({ type: "read", room: "r1", payload: { userId: b.user, seq: 5, unreadCount: 0, upto: 5 } });
  again.receive({ type: "read", room: "r1", payload: { userId: "bob", seq: 4 } });
  await settle();
  assert.deepEqual(marks, [[b.user, 5], ["bob", 4]]);
  assert.equal(b.readMarks.size, 0); // answered: not sent again
  for (const tab of [a, b, c]) tab.close();
});

test("when the leader dies the next tab resumes rooms with since and the stream with its last id, and resends what was not acked", async () => {
  const { browser, tabs: [a, b, c] } = await threeTabs();
  b.join("r1");
  c.join("r1");
  await settle();
  const first = FakeSocket.made[0];
  first.open();
  FakeEventSource.made[0].emit("ready", { cursor: 4 }, "4");
  first.receive(chat(5));
  await settle();
  const pending = b.send("r1", "in flight", "alice"); // the leader dies before the ack
  await settle();
  browser.crash(a);
  const queuedDuringSwitch = c.send("r1", "sent during the switch", "alice");
  await settle();

  assert.equal(b.role, "leader");
  assert.equal(c.leaderTab, "b");
  assert.equal(FakeSocket.made.length, 2);
  const stream = FakeEventSource.made[1];
  assert.equal(new URL(stream.url).searchParams.get("lastEventId"), "4");
  const second = FakeSocket.made[1];
  second.open();
  await settle();
  assert.deepEqual(second.ofType("join").map((f) => f.payload), [{ room: "r1", since: 5 }]);
  const resent = second.ofType("chat").map((f) => f.payload.clientMsgId);
  assert.deepEqual(resent.sort(), [pending, queuedDuringSwitch].sort());
  // the replay repeats nothing a tab has shown; what is new shows once in each tab
  second.receive(chat(5));
  second.receive(chat(6));
  await settle();
  assert.deepEqual(b.shown.message, ["m5", "m6"]);
  assert.deepEqual(c.shown.message, ["m5", "m6"]);
  b.close();
  c.close();
});

/** The joins the next leader's socket sends once ``leader`` crashed and that socket opened. */
async function joinsAfterCrash(browser, leader) {
  browser.crash(leader);
  await settle();
  const next = FakeSocket.made.at(-1);
  next.open();
  await settle();
  return next.ofType("join").map((f) => f.payload);
}

test("a tab that found its room empty resumes it from 0, so a first message is not missed", async () => {
  const fetchImpl = async () => ({ ok: true, json: async () => ({ messages: [], hasMore: false }) });
  const browser = new Browser();
  const a = browser.tab("a", { fetchImpl });
  const b = browser.tab("b", { fetchImpl });
  a.connect();
  b.connect();
  await settle();
  await b.history("r1");
  b.join("r1");
  await settle();
  assert.deepEqual(await joinsAfterCrash(browser, a), [{ room: "r1", since: 0 }]);
  b.close();
});

test("a room joined with nothing shown resumes from the join's seq when the leader dies", async () => {
  const { browser, tabs: [a, b] } = await threeTabs();
  b.join("r1");
  await settle();
  const first = FakeSocket.made[0];
  first.open();
  first.receive({ type: "joined", room: "r1", payload: { room: "r1", seq: 6 } });
  await settle();
  assert.deepEqual(await joinsAfterCrash(browser, a), [{ room: "r1", since: 6 }]);
  b.close();
});

test("the tab that leads when the socket reconnects has every tab resend its unacked messages", async () => {
  const { tabs: [a, b] } = await threeTabs();
  b.join("r1");
  await settle();
  const socket = FakeSocket.made[0];
  socket.open();
  await settle();
  socket.close(1006); // the gateway went away; the leader's socket reconnects (timer faked)
  const id = b.send("r1", "while the socket was down", "alice");
  await settle();
  assert.equal(FakeSocket.made.length, 1);
  a.hub.socket._open(); // the backoff's timer fires
  FakeSocket.made[1].open();
  await settle();
  const again = FakeSocket.made[1];
  assert.deepEqual(again.ofType("join").map((f) => f.payload.room), ["r1"]);
  assert.deepEqual(again.ofType("chat").map((f) => f.payload.clientMsgId), [id]);
});

test("a follower that answers no ping is dropped and its rooms left", async () => {
  const { browser, tabs: [a, b, c] } = await threeTabs();
  a.join("r1");
  c.join("r2");
  await settle();
  const socket = FakeSocket.made[0];
  socket.open();
  await settle();
  browser.crash(c);
  browser.tick(1000); // ping
  await settle();
  browser.tick(a.tabTimeoutMs); // no answer from c since
  await settle();
  assert.deepEqual(socket.ofType("leave").map((f) => f.payload.room), ["r2"]);
  assert.deepEqual([...a.hub.router.tabs.keys()].sort(), ["a", "b"]);
  a.close();
  b.close();
});

test("logging out in one tab closes every tab and the connection", async () => {
  // a new leader greets the others for a moment before it connects: the logout reaches it first
  const browser = new Browser();
  const greet = { greetMs: 20, setTimer: (fn, ms) => setTimeout(fn, ms) };
  const tabs = ["a", "b", "c"].map((name) => browser.tab(name, greet));
  for (const tab of tabs) tab.connect();
  await new Promise((resolve) => setTimeout(resolve, 50));
  const [a, b] = tabs;
  const loggedOut = [];
  for (const tab of tabs) tab.addEventListener("logout", () => loggedOut.push(tab.tab));
  assert.equal(FakeSocket.made.length, 1);
  FakeSocket.made[0].open();
  b.logout();
  await settle();
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(loggedOut.sort(), ["a", "b", "c"]);
  assert.deepEqual(tabs.map((t) => t.role), ["closed", "closed", "closed"]);
  assert.equal(FakeSocket.made[0].readyState, 3);
  assert.equal(FakeEventSource.made[0].closed, true);
  assert.equal(FakeSocket.made.length, 1); // nobody took over
  a.join("r1"); // a closed client does nothing
});

test("a token renewed in one tab reaches every tab, and the leader's socket is extended", async () => {
  const browser = new Browser();
  const first = jwt({ sub: "alice", n: 1 });
  const tabs = ["a", "b"].map((name) => browser.tab(name, { token: first }));
  for (const tab of tabs) tab.connect();
  await settle();
  const socket = FakeSocket.made[0];
  assert.equal(new URL(socket.url).searchParams.get("token"), first);
  socket.open();
  const renewed = jwt({ sub: "alice", n: 2 });
  tabs[1].setToken(renewed);
  await settle();
  assert.deepEqual(tabs.map((t) => t.token), [renewed, renewed]);
  assert.deepEqual(socket.ofType("auth"), [{ type: "auth", payload: { token: renewed } }]);
  assert.throws(() => tabs[0].setToken(jwt({ sub: "mallory" })), /another user/);
  const stream = FakeEventSource.made[0];
  assert.equal(new URL(stream.url).searchParams.get("token"), first); // the open stream's
  tabs[0].hub.stream._open(); // the stream starts over (the browser gave up): the new token
  assert.equal(new URL(FakeEventSource.made[1].url).searchParams.get("token"), renewed);
  // a socket closed at expiry (1008) comes back with the next renewal
  socket.close(1008);
  const again = jwt({ sub: "alice", n: 3 });
  tabs[1].setToken(again);
  await settle();
  assert.equal(FakeSocket.made.length, 2);
  assert.equal(new URL(FakeSocket.made[1].url).searchParams.get("token"), again);
  for (const tab of tabs) tab.close();
});

test("a message that overtook its room's join is sent once more, not shown as failed", async () => {
  const browser = new Browser();
  const resends = [];
  const tab = browser.tab("a", { setTimer: (fn) => resends.push(fn) });
  tab.connect();
  await settle();
  tab.join("r1");
  const socket = FakeSocket.made[0];
  socket.open();
  const id = tab.send("r1", "early", "alice");
  const rejected = [];
  tab.addEventListener("rejected", (e) => rejected.push(e.detail.code));
  socket.receive({ type: "error", payload: { code: "not_joined", ref: id } });
  assert.equal(resends.length, 1);
  resends[0]();
  assert.equal(socket.ofType("chat").length, 2);
  socket.receive({ type: "error", payload: { code: "not_joined", ref: id } }); // for good now
  assert.deepEqual(rejected, ["not_joined"]);
  assert.equal(tab.unacked.size, 0);
  tab.close();
});

test("tabs of another user share nothing with these", async () => {
  const browser = new Browser();
  const alice = browser.tab("a");
  const bob = browser.tab("b", { userId: "bob" });
  alice.connect();
  bob.connect();
  await settle();
  assert.deepEqual([alice.role, bob.role], ["leader", "leader"]);
  assert.equal(FakeSocket.made.length, 2);
  alice.close();
  bob.close();
});

test("without sharing (an option, or no Web Locks) each tab has its own connection", async () => {
  const browser = new Browser();
  const off = browser.tab("a", { shareConnection: false });
  const noLocks = browser.tab("b", { locks: undefined });
  off.connect();
  noLocks.connect();
  await settle();
  assert.deepEqual([off.role, noLocks.role], ["alone", "alone"]);
  assert.equal(FakeSocket.made.length, 2);
  off.close();
  noLocks.close();
});

test("a leader about to be frozen hands over, and follows when it resumes", async () => {
  const { tabs: [a, b, c] } = await threeTabs();
  a.lifecycle.dispatchEvent(new Event("freeze"));
  await settle();
  assert.equal(a.role, "follower");
  assert.equal(b.role, "leader");
  assert.equal(FakeSocket.made[0].readyState, 3);
  a.lifecycle.dispatchEvent(new Event("resume"));
  await settle();
  assert.equal(a.role, "follower");
  assert.equal(a.leaderTab, "b");
  assert.equal(FakeSocket.made.length, 2);
  for (const tab of [a, b, c]) tab.close();
});

test("a closed leader's tab passes the connection on at once", async () => {
  const { tabs: [a, b, c] } = await threeTabs();
  a.close();
  await settle();
  assert.equal(b.role, "leader");
  assert.equal(c.leaderTab, "b");
  b.close();
  await settle();
  assert.equal(c.role, "leader");
  c.close();
});
