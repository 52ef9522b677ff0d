// The browser client's logic, without a browser: fake sockets, event sources and timers.
// Run by services/gateway/tests/test_js_client.py (node --test).
import assert from "node:assert/strict";
import test from "node:test";

import {
  Backoff,
  ChatRoom,
  EventStream,
  ReconnectingSocket,
  RECONNECT_MAX_MS,
  RoomsClient,
  fetchMissed,
  reconnectPlan,
} from "../../src/switchboard_gateway/static/js/switchboard.js";

const BASE = "http://gateway.test/";

class FakeSocket {
  static made = [];
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    FakeSocket.made.push(this);
  }
  static last() {
    return FakeSocket.made[FakeSocket.made.length - 1];
  }
  send(text) {
    if (this.readyState !== 1) throw new Error("not open");
    this.sent.push(JSON.parse(text));
  }
  close(code = 1000) {
    this.drop(code);
  }
  open() {
    this.readyState = 1;
    this.onopen?.({});
  }
  receive(frame) {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
  drop(code = 1006, reason = "") {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
}

class Timers {
  constructor() {
    this.pending = [];
  }
  set = (fn, ms) => {
    this.pending.push({ fn, ms });
    return this.pending.length;
  };
  clear = () => {};
  fire() {
    const { fn, ms } = this.pending.shift();
    fn();
    return ms;
  }
}

function socketOptions(timers, random = () => 1) {
  return {
    WebSocketImpl: FakeSocket,
    backoff: new Backoff({ initialMs: 100, maxMs: 1000, random }),
    setTimer: timers.set,
    clearTimer: timers.clear,
  };
}

function statuses(target) {
  const seen = [];
  target.addEventListener("status", (e) => seen.push(e.detail.status));
  return seen;
}

test("backoff grows exponentially up to its cap, with full jitter", () => {
  const backoff = new Backoff({ initialMs: 100, maxMs: 1000, random: () => 1 });
  assert.deepEqual([1, 2, 3, 4, 5].map(() => backoff.next()), [100, 200, 400, 800, 1000]);
  backoff.reset();
  assert.equal(backoff.next(), 100);
  const jittered = new Backoff({ initialMs: 100, maxMs: 1000, random: () => 0.25 });
  assert.equal(jittered.next(), 25);
});

test("by default no wait between attempts passes 10 s, however many failed", () => {
  assert.equal(RECONNECT_MAX_MS, 10_000);
  const backoff = new Backoff({ random: () => 1 });
  const delays = Array.from({ length: 12 }, () => backoff.next());
  assert.deepEqual(delays.slice(0, 6), [500, 1000, 2000, 4000, 8000, 10_000]);
  assert.ok(delays.every((delay) => delay <= RECONNECT_MAX_MS));
});

test("close codes decide whether and when to reconnect", () => {
  const backoff = new Backoff({ random: () => 1 });
  assert.deepEqual(reconnectPlan(1000, backoff), { reconnect: false });
  assert.deepEqual(reconnectPlan(1007, backoff), { reconnect: false });
  assert.deepEqual(reconnectPlan(1008, backoff), { reconnect: false });
  backoff.next();
  backoff.next();
  const restart = reconnectPlan(1012, backoff, () => 0.5);
  assert.deepEqual(restart, { reconnect: true, delayMs: 500 });
  assert.equal(backoff.attempt, 0);
  assert.ok(reconnectPlan(4429, backoff).delayMs >= 5000);
  assert.equal(reconnectPlan(1006, backoff).delayMs, 1000);
});

test("frames sent while offline are queued and flushed in order on reconnect", () => {
  const timers = new Timers();
  const socket = new ReconnectingSocket("ws://gateway.test/chat/r", socketOptions(timers));
  const seen = statuses(socket);
  socket.connect();
  FakeSocket.last().open();
  assert.equal(socket.send({ n: 1 }), true);
  FakeSocket.last().drop(1006);
  assert.equal(socket.send({ n: 2 }), false);
  assert.equal(socket.send({ n: 3 }), false);
  assert.equal(timers.fire(), 100); // first backoff step
  const second = FakeSocket.last();
  second.open();
  assert.deepEqual(second.sent, [{ n: 2 }, { n: 3 }]);
  assert.deepEqual(seen, ["connecting", "open", "reconnecting", "reconnecting", "open"]);
});

test("a socket refused by policy stops instead of retrying", () => {
  const timers = new Timers();
  const socket = new ReconnectingSocket("ws://gateway.test/ws", socketOptions(timers));
  const seen = statuses(socket);
  socket.connect();
  FakeSocket.last().open();
  FakeSocket.last().drop(1008);
  assert.equal(timers.pending.length, 0);
  assert.equal(seen.at(-1), "closed");
});

function chatRoom(timers, fetchImpl) {
  return new ChatRoom({
    room: "lobby", userId: "alice", base: BASE, socketOptions: socketOptions(timers), fetchImpl,
  });
}

function chat(seq, content = `m${seq}`, extra = {}) {
  return { type: "chat", id: `id-${seq}`, seq, room: "lobby", senderId: "bob", timestamp: seq,
    payload: { content, ...extra } };
}

function historyServer(messages) {
  const calls = [];
  const fetchImpl = async (url) => {
    calls.push(url);
    const query = new URL(url, BASE).searchParams;
    const before = Number(query.get("before") ?? Infinity);
    const limit = Number(query.get("limit"));
    const page = messages.filter((m) => m.seq < before).sort((a, b) => b.seq - a.seq);
    return { ok: true, json: async () => ({ messages: page.slice(0, limit), hasMore: page.length > limit }) };
  };
  return { calls, fetchImpl };
}

test("a message sent but not acked before a drop is sent again with the same clientMsgId", () => {
  const timers = new Timers();
  const room = chatRoom(timers, historyServer([]).fetchImpl);
  room.connect();
  FakeSocket.last().open();
  const acked = room.send("first");
  const lost = room.send("second");
  FakeSocket.last().receive({ type: "ack", payload: { clientMsgId: acked, id: "x", seq: 1 } });
  FakeSocket.last().drop();
  const offline = room.send("third");
  timers.fire();
  FakeSocket.last().open();
  const resent = FakeSocket.last().sent.filter((f) => f.type === "chat").map((f) => f.payload);
  assert.deepEqual(resent.map((p) => p.clientMsgId), [lost, offline]);
  assert.deepEqual(resent.map((p) => p.content), ["second", "third"]);
});

test("a first send says attempt 1 and each resend the next attempt", () => {
  const timers = new Timers();
  const room = chatRoom(timers, historyServer([]).fetchImpl);
  room.connect();
  FakeSocket.last().open();
  const id = room.send("hello");
  const first = FakeSocket.last().sent.find((f) => f.type === "chat");
  assert.equal(first.payload.attempt, 1);
  FakeSocket.last().drop();
  timers.fire();
  FakeSocket.last().open();
  const again = FakeSocket.last().sent.find((f) => f.type === "chat");
  assert.deepEqual([again.payload.clientMsgId, again.payload.attempt], [id, 2]);
});

test("a message queued while offline goes once, as its first attempt", () => {
  const timers = new Timers();
  const room = chatRoom(timers, historyServer([]).fetchImpl);
  room.connect();
  room.send("queued");
  FakeSocket.last().open();
  const sent = FakeSocket.last().sent.filter((f) => f.type === "chat");
  assert.deepEqual(sent.map((f) => f.payload.attempt), [1]);
});

test("the socket resumes after the newest message seen", () => {
  const timers = new Timers();
  const room = chatRoom(timers, historyServer([]).fetchImpl);
  room.seen([chat(3)]);
  room.connect();
  assert.match(FakeSocket.last().url, /^ws:\/\/gateway\.test\/chat\/lobby\?userId=alice&since=3$/);
  FakeSocket.last().open();
  FakeSocket.last().receive(chat(4));
  FakeSocket.last().drop();
  timers.fire();
  assert.match(FakeSocket.last().url, /since=4$/);
});

test("a room joined with nothing shown yet resumes from the seq it was joined at", () => {
  const timers = new Timers();
  const room = chatRoom(timers, historyServer([]).fetchImpl);
  room.connect();
  assert.doesNotMatch(FakeSocket.last().url, /since=/);
  FakeSocket.last().open();
  FakeSocket.last().receive({ type: "joined", room: "lobby", payload: { room: "lobby", seq: 8 } });
  FakeSocket.last().drop();
  timers.fire();
  assert.match(FakeSocket.last().url, /since=8$/);
});

test("a message seen twice is delivered once", () => {
  const timers = new Timers();
  const room = chatRoom(timers, historyServer([]).fetchImpl);
  const delivered = [];
  room.addEventListener("message", (e) => delivered.push(e.detail.seq));
  room.connect();
  FakeSocket.last().open();
  FakeSocket.last().receive(chat(1));
  FakeSocket.last().receive(chat(1));
  FakeSocket.last().receive(chat(2));
  assert.deepEqual(delivered, [1, 2]);
});

test("a gap in live seqs is filled from history", async () => {
  const timers = new Timers();
  const server = historyServer([chat(1), chat(2), chat(3), chat(4)]);
  const room = chatRoom(timers, server.fetchImpl);
  const delivered = [];
  const done = new Promise((resolve) => room.addEventListener("message", (e) => {
    delivered.push(e.detail.seq);
    if (delivered.length === 4) resolve();
  }));
  room.connect();
  FakeSocket.last().open();
  FakeSocket.last().receive(chat(1));
  FakeSocket.last().receive(chat(4));
  await done;
  assert.deepEqual(delivered, [1, 4, 2, 3]);
  assert.match(server.calls[0], /\/api\/rooms\/lobby\/messages\?limit=100/);
});

function change(type, seq, target, content) {
  const payload = { messageId: `id-${target}`, messageSeq: target };
  if (type === "edit") payload.content = content;
  return { type, id: `id-${seq}`, seq, room: "lobby", senderId: "bob", timestamp: seq, payload };
}

test("edits and deletions are events of the room: emitted as such, live and from a gap, and counted for resume", async () => {
  const timers = new Timers();
  const server = historyServer([chat(1), chat(2), change("edit", 3, 1, "m1 again"), change("delete", 4, 2), chat(5)]);
  const room = chatRoom(timers, server.fetchImpl);
  const seen = [];
  for (const name of ["message", "edit", "delete"]) {
    room.addEventListener(name, (e) => seen.push(`${name} ${e.detail.seq}`));
  }
  const filled = new Promise((resolve) => room.addEventListener("delete", resolve));
  room.connect();
  FakeSocket.last().open();
  FakeSocket.last().receive(chat(1));
  FakeSocket.last().receive(change("edit", 3, 1, "m1 again")); // 2 missed: filled from history
  await filled;
  FakeSocket.last().receive(chat(5));
  assert.deepEqual(seen, ["message 1", "edit 3", "message 2", "delete 4", "message 5"]);
  FakeSocket.last().drop();
  timers.fire();
  assert.match(FakeSocket.last().url, /since=5$/);
});

test("an edit and a deletion are sent with a clientMsgId, again until acked", () => {
  const timers = new Timers();
  const room = chatRoom(timers, historyServer([]).fetchImpl);
  room.connect();
  FakeSocket.last().open();
  const edit = room.edit("id-1", "better words");
  const deletion = room.delete("id-2");
  assert.deepEqual(FakeSocket.last().sent.map((f) => [f.type, f.payload]), [
    ["edit", { messageId: "id-1", content: "better words", clientMsgId: edit, attempt: 1 }],
    ["delete", { messageId: "id-2", clientMsgId: deletion, attempt: 1 }],
  ]);
  FakeSocket.last().receive({ type: "ack", payload: { clientMsgId: edit, id: "e", seq: 3, room: "lobby" } });
  FakeSocket.last().drop();
  timers.fire();
  FakeSocket.last().open();
  assert.deepEqual(FakeSocket.last().sent.map((f) => [f.type, f.payload.clientMsgId, f.payload.attempt]), [
    ["delete", deletion, 2],
  ]);
});

test("a reaction and its taking back are sent with the emoji and emitted as room events", () => {
  const timers = new Timers();
  const room = chatRoom(timers, historyServer([]).fetchImpl);
  const seen = [];
  for (const name of ["react", "unreact"]) {
    room.addEventListener(name, (e) => seen.push([name, e.detail.seq, e.detail.payload.emoji]));
  }
  room.connect();
  FakeSocket.last().open();
  const added = room.react("id-1", "👍");
  room.unreact("id-1", "👍");
  assert.deepEqual(FakeSocket.last().sent.map((f) => [f.type, f.payload.messageId, f.payload.emoji]), [
    ["react", "id-1", "👍"],
    ["unreact", "id-1", "👍"],
  ]);
  assert.equal(FakeSocket.last().sent[0].payload.clientMsgId, added);
  FakeSocket.last().receive(chat(1));
  for (const [type, seq] of [["react", 2], ["unreact", 3]]) {
    const frame = change(type, seq, 1);
    frame.payload.emoji = "👍";
    FakeSocket.last().receive(frame);
  }
  assert.deepEqual(seen, [["react", 2, "👍"], ["unreact", 3, "👍"]]);
});

test("after a reconnect what was missed is fetched from history", async () => {
  const timers = new Timers();
  const server = historyServer([chat(1), chat(2), chat(3)]);
  const room = chatRoom(timers, server.fetchImpl);
  const delivered = [];
  const done = new Promise((resolve) => room.addEventListener("message", (e) => {
    delivered.push(e.detail.seq);
    if (delivered.length === 3) resolve();
  }));
  room.connect();
  FakeSocket.last().open();
  FakeSocket.last().receive(chat(1));
  FakeSocket.last().drop();
  timers.fire();
  FakeSocket.last().open();
  await done;
  assert.deepEqual(delivered, [1, 2, 3]);
});

test("fetchMissed pages back until it reaches the last seq seen", async () => {
  const messages = Array.from({ length: 250 }, (_, i) => chat(i + 1));
  const server = historyServer(messages);
  const missed = await fetchMissed("lobby", 20, { fetchImpl: server.fetchImpl, base: "" });
  assert.equal(missed.length, 230);
  assert.equal(missed[0].seq, 21);
  assert.equal(missed.at(-1).seq, 250);
  assert.equal(server.calls.length, 3);
});

test("a refused message is not sent again; an unavailable one is", () => {
  const timers = new Timers();
  const room = chatRoom(timers, historyServer([]).fetchImpl);
  const rejected = [];
  room.addEventListener("rejected", (e) => rejected.push(e.detail.code));
  room.connect();
  FakeSocket.last().open();
  const tooLong = room.send("x");
  const unlucky = room.send("y");
  FakeSocket.last().receive({ type: "error", payload: { code: "content_too_long", ref: tooLong } });
  FakeSocket.last().receive({ type: "error", payload: { code: "unavailable", ref: unlucky } });
  FakeSocket.last().drop();
  timers.fire();
  FakeSocket.last().open();
  assert.deepEqual(rejected, ["content_too_long", "unavailable"]);
  assert.deepEqual(FakeSocket.last().sent.map((f) => f.payload.clientMsgId), [unlucky]);
});

test("a draining gateway's reconnect hint is honoured, up to the backoff's cap", () => {
  const backoff = new Backoff({ random: () => 1 });
  const told = reconnectPlan(1012, backoff, () => 0.5, "service restart; reconnect in 3210 ms");
  assert.deepEqual(told, { reconnect: true, delayMs: 3210 });
  const tooLong = reconnectPlan(1012, backoff, () => 0.5, "reconnect in 999999 ms");
  assert.equal(tooLong.delayMs, RECONNECT_MAX_MS);
});

test("a socket closed by a draining gateway comes back when the gateway said", () => {
  const timers = new Timers();
  const socket = new ReconnectingSocket("ws://gateway.test/ws", socketOptions(timers));
  socket.connect();
  FakeSocket.last().open();
  FakeSocket.last().drop(1012, "service restart; reconnect in 700 ms");
  assert.equal(timers.fire(), 700);
  FakeSocket.last().open();
  FakeSocket.last().drop(1012, "service restart");
  assert.equal(timers.fire(), 1000); // no hint: jitter within a second (random() = 1 here)
});

test("the multi-room client joins every room again with since after a reconnect", () => {
  const timers = new Timers();
  const client = new RoomsClient({ userId: "alice", base: BASE, socketOptions: socketOptions(timers) });
  client.connect();
  assert.equal(FakeSocket.last().url, "ws://gateway.test/ws?userId=alice");
  FakeSocket.last().open();
  client.join("a");
  client.join("b");
  FakeSocket.last().receive({ ...chat(7), room: "a" });
  FakeSocket.last().drop(1012);
  timers.fire();
  FakeSocket.last().open();
  const joins = FakeSocket.last().sent.filter((f) => f.type === "join").map((f) => f.payload);
  assert.deepEqual(joins, [{ room: "a", since: 7 }, { room: "b" }]);
});

test("the multi-room client resumes a room it joined but saw nothing of from the join's seq", () => {
  const timers = new Timers();
  const client = new RoomsClient({ userId: "alice", base: BASE, socketOptions: socketOptions(timers) });
  client.connect();
  FakeSocket.last().open();
  client.join("a");
  client.join("b");
  FakeSocket.last().receive({ type: "joined", room: "a", payload: { room: "a", seq: 3 } });
  FakeSocket.last().receive({ ...chat(9), room: "b" });
  FakeSocket.last().receive({ type: "joined", room: "b", payload: { room: "b", seq: 8 } });
  FakeSocket.last().drop(1012);
  timers.fire();
  FakeSocket.last().open();
  const joins = FakeSocket.last().sent.filter((f) => f.type === "join").map((f) => f.payload);
  assert.deepEqual(joins, [{ room: "a", since: 3 }, { room: "b", since: 9 }]);
});

class FakeEventSource {
  static made = [];
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.listeners = {};
    FakeEventSource.made.push(this);
  }
  addEventListener(name, fn) {
    this.listeners[name] = fn;
  }
  close() {
    this.readyState = 2;
  }
  dispatch(name, data, lastEventId = "") {
    this.listeners[name]({ data: JSON.stringify(data), lastEventId });
  }
}

test("an event stream that has to start over resumes from the last event id", () => {
  const timers = new Timers();
  const stream = new EventStream("/api/notifications/stream?userId=alice", {
    events: ["notification"], EventSourceImpl: FakeEventSource, base: BASE,
    backoff: new Backoff({ initialMs: 100, random: () => 1 }), setTimer: timers.set,
    clearTimer: timers.clear,
  });
  const received = [];
  const seen = statuses(stream);
  stream.addEventListener("notification", (e) => received.push(e.detail.title));
  stream.connect();
  const first = FakeEventSource.made.at(-1);
  first.onopen();
  first.dispatch("notification", { title: "hello" }, "41");
  first.readyState = 0; // the browser retries by itself, sending Last-Event-ID
  first.onerror();
  assert.equal(timers.pending.length, 0);
  first.readyState = 2; // it gave up (an HTTP error): start over with the parameter
  first.onerror();
  assert.equal(timers.fire(), 100);
  const second = FakeEventSource.made.at(-1);
  assert.equal(new URL(second.url).searchParams.get("lastEventId"), "41");
  assert.equal(new URL(second.url).searchParams.get("userId"), "alice");
  assert.deepEqual(received, ["hello"]);
  assert.deepEqual(seen, ["connecting", "open", "reconnecting", "reconnecting", "connecting"]);
});
