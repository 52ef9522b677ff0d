// Switchboard's browser client: plain ES module, no dependencies. Usable by any web app.
//
//   import { ChatRoom, RoomsClient, EventStream } from "/js/switchboard.js";
//
// - ReconnectingSocket: a WebSocket that reconnects with exponential backoff and full jitter,
//   queues frames while offline and flushes them in order on reconnect, and reports its status.
// - ChatRoom: one room over the compatible endpoint /chat/{room} (resume with ?since=).
// - RoomsClient: many rooms over /ws (join/leave frames; resume with join {since}).
//   Both give every chat message a clientMsgId, resend the unacknowledged ones after a
//   reconnect (the server stores each clientMsgId once), and drop duplicates by id.
//   A room's events are "message" (a chat frame), "edit" and "delete" (a message was edited or
//   deleted), "react" and "unreact" (a user added or took back an emoji on a message): each an
//   event of the room with its own seq, counted for resume like a message.
// - EventStream: Server-Sent Events (notifications, dashboards) with resume by Last-Event-ID
//   (the browser's own, or the lastEventId parameter when it has to start over).
//
// - SharedClient: rooms and notifications for one user, with one WebSocket and one notification
//   stream for all of the user's tabs of this origin (a leader tab holds them; the decisions are
//   in shared-tabs.js). `shareConnection: false` gives each tab its own.
//
// Every class is an EventTarget; listen with addEventListener(name, e => e.detail).

import { ROOM_EVENTS, SeenLog, TabRouter, channelName, userOfToken } from "./shared-tabs.js";

export { ROOM_EVENTS, SeenLog, TabRouter, channelName, userOfToken };

export const CLOSE = Object.freeze({
  NORMAL: 1000,
  INVALID_PAYLOAD: 1007,
  POLICY: 1008,
  TOO_BIG: 1009,
  INTERNAL: 1011,
  RESTART: 1012,
  TRY_LATER: 1013,
  RATE_LIMITED: 4429,
});

/**
 * The longest a client waits between two attempts (the Python client's cap too): a page whose
 * gateway comes back is online again within this, however long the gateway was away.
 */
export const RECONNECT_MAX_MS = 10_000;

/** Exponential backoff with full jitter: a random delay in [0, min(max, initial * factor^n)]. */
export class Backoff {
  constructor({ initialMs = 500, maxMs = RECONNECT_MAX_MS, factor = 2, random = Math.random } = {}) {
    Object.assign(this, { initialMs, maxMs, factor, random });
    this.attempt = 0;
  }

  next(floorMs = 0) {
    const ceiling = Math.min(this.maxMs, this.initialMs * this.factor ** this.attempt);
    this.attempt += 1;
    return Math.max(floorMs, Math.round(this.random() * ceiling));
  }

  reset() {
    this.attempt = 0;
  }
}

const RECONNECT_HINT = /reconnect in (\d+) ms/;

/**
 * What to do after a close (its code and reason): stop, or reconnect after how long. A draining
 * gateway (1012) says when to come back in its reason, jittered by it, so that a rolling restart
 * brings no reconnect storm; without that, come back within a second.
 */
export function reconnectPlan(code, backoff, random = Math.random, reason = "") {
  switch (code) {
    case CLOSE.NORMAL:
    case CLOSE.INVALID_PAYLOAD: // the same frames would be refused again
    case CLOSE.POLICY:
    case CLOSE.TOO_BIG:
      return { reconnect: false };
    case CLOSE.RESTART: {
      backoff.reset();
      const hint = RECONNECT_HINT.exec(reason);
      const delayMs = hint ? Number(hint[1]) : random() * 1000;
      return { reconnect: true, delayMs: Math.round(Math.min(delayMs, backoff.maxMs)) };
    }
    case CLOSE.RATE_LIMITED:
      return { reconnect: true, delayMs: backoff.next(5000) };
    default:
      return { reconnect: true, delayMs: backoff.next() };
  }
}

function emit(target, name, detail) {
  const event = typeof CustomEvent === "function"
    ? new CustomEvent(name, { detail })
    : Object.assign(new Event(name), { detail }); // Node 18 has no CustomEvent
  target.dispatchEvent(event);
}

function uuid() {
  if (globalThis.crypto?.randomUUID) return globalThis.crypto.randomUUID();
  return `${Date.now().toString(16)}-${Math.random().toString(16).slice(2)}`;
}

export function wsUrl(path, base = globalThis.location?.href) {
  const url = new URL(path, base);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.toString();
}

/**
 * A WebSocket that comes back. Status events: {status: "connecting" | "open" | "reconnecting" |
 * "closed", attempt, delayMs, code}. "frame" events carry each parsed JSON frame; "open" events
 * say whether it is a reconnect ({resumed: true}).
 */
export class ReconnectingSocket extends EventTarget {
  constructor(url, { WebSocketImpl = globalThis.WebSocket, backoff = new Backoff(), maxQueued = 1000,
    setTimer = (fn, ms) => setTimeout(fn, ms), clearTimer = (t) => clearTimeout(t) } = {}) {
    super();
    this._url = typeof url === "function" ? url : () => url;
    Object.assign(this, { WebSocketImpl, backoff, maxQueued, setTimer, clearTimer });
    this.queue = [];
    this.status = "idle";
    this.opened = 0;
    this._ws = null;
    this._timer = null;
    this._stopped = false;
  }

  get isOpen() {
    return this._ws !== null && this._ws.readyState === 1;
  }

  connect() {
    this._stopped = false;
    this._open();
    return this;
  }

  /** Send a frame now, or queue it until the socket is open (oldest dropped beyond maxQueued). */
  send(frame) {
    const text = typeof frame === "string" ? frame : JSON.stringify(frame);
    if (this.isOpen) {
      this._ws.send(text);
      return true;
    }
    this.queue.push(text);
    if (this.queue.length > this.maxQueued) this.queue.shift();
    return false;
  }

  close(code = CLOSE.NORMAL) {
    this._stopped = true;
    if (this._timer !== null) this.clearTimer(this._timer);
    this._timer = null;
    if (this._ws) this._ws.close(code);
    this._setStatus("closed", { code });
  }

  /** Reconnect now (for example when the browser comes back online). */
  retryNow() {
    if (this._stopped || this.isOpen || this._ws) return;
    if (this._timer !== null) this.clearTimer(this._timer);
    this._timer = null;
    this._open();
  }

  _setStatus(status, extra = {}) {
    this.status = status;
    emit(this, "status", { status, attempt: this.backoff.attempt, ...extra });
  }

  _open() {
    this._timer = null;
    this._setStatus(this.opened ? "reconnecting" : "connecting", { delayMs: 0 });
    let ws;
    try {
      ws = new this.WebSocketImpl(this._url());
    } catch (error) {
      this._scheduleReconnect(CLOSE.INTERNAL);
      return;
    }
    this._ws = ws;
    ws.onopen = () => {
      const resumed = this.opened > 0;
      this.opened += 1;
      this.backoff.reset();
      this._setStatus("open");
      emit(this, "open", { resumed });
      const queued = this.queue.splice(0);
      for (const text of queued) ws.send(text);
    };
    ws.onmessage = (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      emit(this, "frame", frame);
    };
    ws.onclose = (event) => {
      if (this._ws !== ws) return;
      this._ws = null;
      emit(this, "close", { code: event.code, reason: event.reason });
      if (!this._stopped) this._scheduleReconnect(event.code, event.reason);
    };
    ws.onerror = () => {}; // a close event follows
  }

  _scheduleReconnect(code, reason = "") {
    const plan = reconnectPlan(code, this.backoff, this.backoff.random, reason);
    if (!plan.reconnect) {
      this._stopped = true;
      this._setStatus("closed", { code });
      return;
    }
    this._setStatus("reconnecting", { delayMs: plan.delayMs, code });
    this._timer = this.setTimer(() => this._open(), plan.delayMs);
  }
}

/** Per-room bookkeeping: the newest seq seen, ids already shown, chat frames not yet acked. */
export class RoomState {
  constructor(maxRemembered = 2000) {
    this.lastSeq = null;
    this.seen = new Set();
    this.unacked = new Map(); // clientMsgId -> frame
    this.maxRemembered = maxRemembered;
  }

  /** True when the message is new (and remembers it). */
  accept(message) {
    if (message.id && this.seen.has(message.id)) return false;
    if (message.id) {
      this.seen.add(message.id);
      if (this.seen.size > this.maxRemembered) this.seen.delete(this.seen.values().next().value);
    }
    if (typeof message.seq === "number" && (this.lastSeq === null || message.seq > this.lastSeq)) {
      this.lastSeq = message.seq;
    }
    return true;
  }

  /** The room was joined at `seq` (the `joined` frame): where to resume from while no message
   * was shown yet. */
  start(seq) {
    if (this.lastSeq === null && typeof seq === "number") this.lastSeq = seq;
  }
}

async function fetchJson(fetchImpl, url, init) {
  const response = await fetchImpl(url, init);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(body.error || `HTTP ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return body;
}

/** A history page, newest first: {messages, hasMore}. */
export function fetchHistory(room, { before, limit = 50, fetchImpl = globalThis.fetch.bind(globalThis),
  base = "", init } = {}) {
  const query = new URLSearchParams({ limit: String(limit) });
  if (before !== undefined && before !== null) query.set("before", String(before));
  return fetchJson(fetchImpl, `${base}/api/rooms/${encodeURIComponent(room)}/messages?${query}`, init);
}

/** The messages after `lastSeq`, oldest first, read from history pages (when the server could
 * not replay them itself). */
export async function fetchMissed(room, lastSeq, options = {}) {
  const missed = [];
  let before;
  for (;;) {
    const page = await fetchHistory(room, { ...options, before, limit: 100 });
    const newer = page.messages.filter((m) => m.seq > lastSeq);
    missed.push(...newer);
    if (!page.hasMore || newer.length < page.messages.length || page.messages.length === 0) break;
    before = page.messages[page.messages.length - 1].seq;
  }
  return missed.sort((a, b) => a.seq - b.seq);
}

/** The frame of its next attempt: `attempt` 1 the first time this clientMsgId goes out (the
 * server then skips its look-up for an earlier copy), counted up on every resend. Counted where
 * the message is kept until acked, whoever carries it to the socket (a leader tab's). */
function nextAttempt(frame) {
  frame.payload.attempt = (frame.payload.attempt || 0) + 1;
  return frame;
}

/** An `edit` (with `content`), `delete`, `react` or `unreact` (with `emoji`) frame for message
 * `messageId`. */
function changeFrame(type, messageId, { content, emoji, room, clientMsgId = uuid() } = {}) {
  const payload = { messageId, clientMsgId };
  if (type === "edit") payload.content = content;
  if (type === "react" || type === "unreact") payload.emoji = emoji;
  if (room) payload.room = room;
  return { type, payload, timestamp: Date.now() };
}

function chatFrame(content, { clientMsgId = uuid(), senderName, room } = {}) {
  const payload = { content, clientMsgId };
  if (senderName) payload.senderName = senderName;
  if (room) payload.room = room;
  return { type: "chat", payload, timestamp: Date.now() };
}

/**
 * One room over /chat/{room}. Events: "message" (a chat frame, each once, in order), "edit" and
 * "delete" (in the same order), "ack",
 * "rejected" (an error frame about one of our messages: {clientMsgId, code, message}),
 * "typing", "presence", "notification", "error", "replay", "status".
 */
export class ChatRoom extends EventTarget {
  constructor({ room, userId, senderName, base = globalThis.location?.href, socketOptions = {},
    fetchImpl = globalThis.fetch?.bind(globalThis), origin = "" }) {
    super();
    Object.assign(this, { room, userId, senderName, fetchImpl, origin });
    this.state = new RoomState();
    const url = () => {
      const query = new URLSearchParams({ userId });
      if (this.state.lastSeq !== null) query.set("since", String(this.state.lastSeq));
      return wsUrl(`${origin}/chat/${encodeURIComponent(room)}?${query}`, base);
    };
    this.socket = new ReconnectingSocket(url, socketOptions);
    this.socket.addEventListener("status", (e) => emit(this, "status", e.detail));
    this.socket.addEventListener("open", (e) => this._onOpen(e.detail));
    this.socket.addEventListener("frame", (e) => this._onFrame(e.detail));
  }

  /** Remember messages shown from history, so that resuming starts after them. */
  seen(messages) {
    for (const message of messages) this.state.accept(message);
  }

  connect() {
    this.socket.connect();
    return this;
  }

  close() {
    this.socket.close();
  }

  /** Send a message; returns its clientMsgId. Queued while offline, resent until acked. */
  send(content) {
    return this._sendKept(chatFrame(content, { senderName: this.senderName }));
  }

  /** Edit a message of ours (or any, with the scope `rooms:moderate`); returns the clientMsgId. */
  edit(messageId, content) {
    return this._sendKept(changeFrame("edit", messageId, { content }));
  }

  /** Delete a message of ours (or any, with `rooms:moderate`); returns the clientMsgId. */
  delete(messageId) {
    return this._sendKept(changeFrame("delete", messageId));
  }

  /** Add our `emoji` to a message (`unreact`: take it back); returns the clientMsgId. */
  react(messageId, emoji) {
    return this._sendKept(changeFrame("react", messageId, { emoji }));
  }

  unreact(messageId, emoji) {
    return this._sendKept(changeFrame("unreact", messageId, { emoji }));
  }

  _sendKept(frame) {
    this.state.unacked.set(frame.payload.clientMsgId, frame);
    this.socket.send(nextAttempt(frame));
    return frame.payload.clientMsgId;
  }

  typing(isTyping) {
    if (this.socket.isOpen) this.socket.send({ type: "typing", payload: { isTyping } });
  }

  presence(meta) {
    this.socket.send({ type: "presence", payload: meta });
  }

  history(before, limit = 30) {
    return fetchHistory(this.room, { before, limit, fetchImpl: this.fetchImpl, base: this.origin });
  }

  _onOpen({ resumed }) {
    // frames sent before the drop and never acked go again (the queued ones went already)
    const queued = new Set(this.socket.queue);
    for (const frame of this.state.unacked.values()) {
      if (!queued.has(JSON.stringify(frame))) this.socket.send(nextAttempt(frame));
    }
    if (resumed && this.state.lastSeq !== null && this.fetchImpl) this._fillGap();
  }

  /** Fetch the messages after `after` from history. With `upto` (a seq seen live), what lies
   * between may not be stored yet: try again a few times until all of it is. */
  async _fillGap(after = this.state.lastSeq, upto = null, tries = 4) {
    try {
      const missed = await fetchMissed(this.room, after, {
        fetchImpl: this.fetchImpl, base: this.origin,
      });
      for (const message of missed) this._deliver(message, false);
      const found = missed.filter((m) => upto === null || m.seq < upto).length;
      if (upto !== null && found < upto - after - 1 && tries > 1) {
        setTimeout(() => this._fillGap(after, upto, tries - 1), 1000 * 2 ** (4 - tries));
      }
    } catch (error) {
      emit(this, "error", { code: "resume_failed", message: String(error.message || error) });
    }
  }

  _deliver(message, live = true) {
    const before = this.state.lastSeq;
    if (!this.state.accept(message)) return;
    emit(this, ROOM_EVENTS[message.type] ?? "message", message);
    // a live message further on than the next one: fetch what is in between
    if (live && before !== null && message.seq > before + 1 && this.fetchImpl) {
      this._fillGap(before, message.seq);
    }
  }

  _onFrame(frame) {
    switch (frame.type) {
      case "chat":
      case "edit":
      case "delete":
      case "react":
      case "unreact":
        this._deliver(frame);
        break;
      case "ack":
        this.state.unacked.delete(frame.payload?.clientMsgId);
        emit(this, "ack", frame.payload);
        break;
      case "joined":
        this.state.start(frame.payload?.seq);
        emit(this, "joined", frame.payload);
        break;
      case "replay":
        emit(this, "replay", frame.payload);
        break;
      case "error":
        this._onError(frame.payload ?? {});
        break;
      default:
        emit(this, frame.type, frame.payload ?? frame);
    }
  }

  _onError(error) {
    if (this.state.unacked.has(error.ref)) {
      // refused for good, unless the service was only unavailable: then it goes again
      if (error.code !== "unavailable") this.state.unacked.delete(error.ref);
      emit(this, "rejected", { clientMsgId: error.ref, ...error });
    } else {
      emit(this, "error", error);
    }
  }
}

/**
 * Many rooms over /ws: join(room) / leave(room); after a reconnect every joined room is joined
 * again with `since` (its newest seq), so the server replays what was missed. Events as
 * ChatRoom's, each with the room in the detail (`detail.room`).
 */
export class RoomsClient extends EventTarget {
  constructor({ userId, base = globalThis.location?.href, socketOptions = {}, origin = "" }) {
    super();
    this.rooms = new Map(); // room -> RoomState
    const url = () => wsUrl(`${origin}/ws?${new URLSearchParams({ userId })}`, base);
    this.socket = new ReconnectingSocket(url, socketOptions);
    this.socket.addEventListener("status", (e) => emit(this, "status", e.detail));
    this.socket.addEventListener("open", () => this._onOpen());
    this.socket.addEventListener("frame", (e) => this._onFrame(e.detail));
  }

  connect() {
    this.socket.connect();
    return this;
  }

  close() {
    this.socket.close();
  }

  join(room) {
    if (!this.rooms.has(room)) this.rooms.set(room, new RoomState());
    if (this.socket.isOpen) this.socket.send(this._joinFrame(room));
  }

  leave(room) {
    this.rooms.delete(room);
    if (this.socket.isOpen) this.socket.send({ type: "leave", payload: { room } });
  }

  send(room, content, senderName) {
    return this._sendKept(room, chatFrame(content, { room, senderName }));
  }

  edit(room, messageId, content) {
    return this._sendKept(room, changeFrame("edit", messageId, { content, room }));
  }

  delete(room, messageId) {
    return this._sendKept(room, changeFrame("delete", messageId, { room }));
  }

  react(room, messageId, emoji) {
    return this._sendKept(room, changeFrame("react", messageId, { emoji, room }));
  }

  unreact(room, messageId, emoji) {
    return this._sendKept(room, changeFrame("unreact", messageId, { emoji, room }));
  }

  _sendKept(room, frame) {
    this.rooms.get(room)?.unacked.set(frame.payload.clientMsgId, frame);
    this.socket.send(nextAttempt(frame));
    return frame.payload.clientMsgId;
  }

  typing(room, isTyping) {
    if (this.socket.isOpen) this.socket.send({ type: "typing", payload: { room, isTyping } });
  }

  history(room, before, limit = 50) {
    const payload = { room, limit };
    if (before !== undefined && before !== null) payload.before = before;
    this.socket.send({ type: "history", payload });
  }

  _joinFrame(room) {
    const payload = { room };
    const lastSeq = this.rooms.get(room)?.lastSeq;
    if (lastSeq !== null && lastSeq !== undefined) payload.since = lastSeq;
    return { type: "join", payload };
  }

  _onOpen() {
    for (const room of this.rooms.keys()) this.socket.send(this._joinFrame(room));
    const queued = new Set(this.socket.queue);
    for (const state of this.rooms.values()) {
      for (const frame of state.unacked.values()) {
        if (!queued.has(JSON.stringify(frame))) this.socket.send(nextAttempt(frame));
      }
    }
  }

  _onFrame(frame) {
    const room = frame.room ?? frame.payload?.room;
    const state = this.rooms.get(room);
    if (ROOM_EVENTS[frame.type]) {
      if (!state || state.accept(frame)) emit(this, ROOM_EVENTS[frame.type], frame);
    } else if (frame.type === "ack") {
      state?.unacked.delete(frame.payload?.clientMsgId);
      emit(this, "ack", frame.payload);
    } else {
      if (frame.type === "joined") state?.start(frame.payload?.seq);
      emit(this, frame.type, { room, ...(frame.payload ?? {}) });
    }
  }
}

/**
 * Server-Sent Events with status and resume. The browser reconnects by itself and sends
 * Last-Event-ID; when it gives up (an HTTP error, say), this starts over with backoff, passing
 * the last id as the `lastEventId` parameter. Events: each name in `events`, "status".
 */
export class EventStream extends EventTarget {
  constructor(url, { events = [], lastEventId = null, EventSourceImpl = globalThis.EventSource,
    backoff = new Backoff({ initialMs: 1000 }), base = globalThis.location?.href,
    setTimer = (fn, ms) => setTimeout(fn, ms), clearTimer = (t) => clearTimeout(t) } = {}) {
    super();
    Object.assign(this, { url, events, lastEventId, EventSourceImpl, backoff, base, setTimer,
      clearTimer });
    this.status = "idle";
    this._source = null;
    this._timer = null;
  }

  connect() {
    this._open();
    return this;
  }

  close() {
    if (this._timer !== null) this.clearTimer(this._timer);
    this._timer = null;
    if (this._source) this._source.close();
    this._source = null;
    this._setStatus("closed");
  }

  _setStatus(status, extra = {}) {
    this.status = status;
    emit(this, "status", { status, ...extra });
  }

  _open() {
    this._timer = null;
    const url = new URL(this.url, this.base);
    if (this.lastEventId !== null) url.searchParams.set("lastEventId", this.lastEventId);
    const source = new this.EventSourceImpl(url.toString());
    this._source = source;
    this._setStatus("connecting");
    source.onopen = () => {
      this.backoff.reset();
      this._setStatus("open");
    };
    source.onerror = () => {
      if (this._source !== source) return;
      if (source.readyState === 2) { // CLOSED: the browser will not retry
        source.close();
        this._source = null;
        const delayMs = this.backoff.next();
        this._setStatus("reconnecting", { delayMs });
        this._timer = this.setTimer(() => this._open(), delayMs);
      } else {
        this._setStatus("reconnecting", { delayMs: null });
      }
    };
    for (const name of this.events) {
      source.addEventListener(name, (event) => {
        if (event.lastEventId) this.lastEventId = event.lastEventId;
        let data = event.data;
        try {
          data = JSON.parse(event.data);
        } catch {
          // not JSON: passed on as text
        }
        emit(this, name, data);
      });
    }
  }
}

const STREAM_PATH = "/api/notifications/stream";
const STREAM_EVENTS = ["notification", "unread", "reset", "ready"];

/**
 * The leader tab's side of a SharedClient: the one WebSocket (/ws) and the one notification
 * stream, the TabRouter that says which tab gets what, and a ping to notice tabs that are gone.
 */
class Hub {
  constructor(client) {
    this.client = client;
    this.router = new TabRouter();
    this.joined = new Set(); // rooms the socket has joined
    this.presence = new Map(); // room -> its last presence frame, for a tab that joins later
    this.socket = null;
    this.stream = null;
    this.lastPingAt = null;
    this._ticker = null;
    this.stopped = false;
  }

  start() {
    const client = this.client;
    this.socket = new ReconnectingSocket(() => client._url("/ws", true), client.socketOptions);
    const share = (kind) => (e) => { if (!this.stopped) client._share({ kind, detail: e.detail }); };
    this.socket.addEventListener("status", share("status"));
    this.socket.addEventListener("open", () => this._onOpen());
    this.socket.addEventListener("close", () => this.joined.clear());
    this.socket.addEventListener("frame", (e) => this._onFrame(e.detail));
    this.socket.connect();
    if (client.notifications) {
      this.stream = new EventStream(client._url(STREAM_PATH), {
        events: STREAM_EVENTS, lastEventId: this.router.lastEventId(), base: client.base,
        ...client.streamOptions,
      });
      this.stream.addEventListener("status", share("stream-status"));
      for (const name of STREAM_EVENTS) {
        this.stream.addEventListener(name, (e) => client._share({
          kind: "event", name, data: e.detail, id: this.stream.lastEventId,
        }));
      }
      this.stream.connect();
    }
    this._ticker = client.setRepeat(() => this._tick(), client.heartbeatMs);
  }

  stop() {
    this.stopped = true;
    if (this._ticker !== null) this.client.clearRepeat(this._ticker);
    this._ticker = null;
    this.socket?.close();
    this.stream?.close();
  }

  /** A tab's message (the leader's own tab calls this directly). */
  handle(msg) {
    const { tab } = msg;
    const now = this.client.now();
    this.router.beat(tab, now);
    switch (msg.kind) {
      case "hello":
        this._apply(this.router.hello(tab, msg, now));
        this.client._post(this.client._announcement());
        for (const room of Object.keys(msg.rooms ?? {})) this._welcome(tab, room);
        break;
      case "join":
        this._apply(this.router.want(tab, msg.room, msg.since, now));
        this._welcome(tab, msg.room);
        break;
      case "leave":
        this._apply(this.router.unwant(tab, msg.room));
        break;
      case "send":
        if (this.socket?.isOpen) this.socket.send(msg.frame);
        break; // not open: the tab sends it again when the socket is ("online")
      case "bye":
        this._apply(this.router.remove(tab));
        break;
      case "retry":
        this.socket?.retryNow();
        break;
      case "token": // the client has it already: for reconnects, and now for the open socket
        if (this.stream) this.stream.url = this.client._url(STREAM_PATH);
        if (this.socket?.isOpen) this.socket.send({ type: "auth", payload: { token: msg.token } });
        else if (this.socket?.status === "closed") this.socket.connect(); // closed at expiry (1008)
        break;
      default: // "beat": counted above
    }
  }

  /** A tab joined a room the socket had joined already: what it would have got on joining. */
  _welcome(tab, room) {
    if (!this.joined.has(room)) return;
    this.client._deliver([tab], { kind: "joined", room, upto: this.router.routedSeq.get(room) ?? null });
    const presence = this.presence.get(room);
    if (presence) this.client._deliver([tab], { kind: "frame", frame: presence });
  }

  _apply(actions) {
    for (const action of actions) {
      if (action.join !== undefined) this._join(action.join);
      else this._leave(action.leave);
    }
  }

  _join(room) {
    if (!this.socket?.isOpen || this.joined.has(room)) return;
    const payload = { room };
    const since = this.router.since(room);
    if (since !== null) payload.since = since;
    this.socket.send({ type: "join", payload });
    this.joined.add(room);
  }

  _leave(room) {
    this.presence.delete(room);
    if (!this.joined.delete(room) || !this.socket?.isOpen) return;
    this.socket.send({ type: "leave", payload: { room } });
  }

  _onOpen() {
    this.joined.clear();
    for (const room of this.router.rooms()) this._join(room);
    this.client._share({ kind: "online" }); // every tab sends its unacknowledged messages again
  }

  _onFrame(frame) {
    if (frame.type === "presence" && frame.room) this.presence.set(frame.room, frame);
    const { to } = this.router.route(frame);
    this.client._deliver(to, { kind: "frame", frame });
  }

  _tick() {
    const now = this.client.now();
    if (this.lastPingAt !== null && now - this.lastPingAt < this.client.tabTimeoutMs) return;
    if (this.lastPingAt !== null) this._apply(this.router.expire(this.lastPingAt, this.client.tab).actions);
    this.lastPingAt = now;
    this.client._post({ kind: "ping", tab: this.client.tab });
  }
}

/**
 * Rooms (over /ws) and the user's notifications, for one tab, sharing one connection with the
 * user's other tabs of this origin. The tabs elect a leader with a Web Lock named after the
 * user; the leader holds the WebSocket and the notification stream, joins the union of every
 * tab's rooms and passes each frame, over a BroadcastChannel, to the tabs that want its room.
 * When the leader goes (closed, crashed, frozen), the next tab in the lock's queue takes over,
 * resuming each room with `since` and the stream with its last event id; every tab drops what
 * it has shown already and sends its unacknowledged messages again with their clientMsgId.
 * Without Web Locks or BroadcastChannel, or with `shareConnection: false`, each tab has its own.
 *
 * Events: "message", "ack", "rejected", "typing", "presence", "replay", "error" (each with
 * `room`), "notification", "unread", "ready", "reset" (the user's), "status" (the socket's),
 * "stream-status", "role" ({role: "leader" | "follower" | "alone" | "closed", tab, leaderTab}),
 * "token", "logout", and any other frame type of a joined room (dashboard frames).
 */
export class SharedClient extends EventTarget {
  constructor({ userId = null, token = null, origin = "", base = globalThis.location?.href,
    shareConnection = true, notifications = true, lastEventId = null,
    locks = globalThis.navigator?.locks, BroadcastChannelImpl = globalThis.BroadcastChannel,
    socketOptions = {}, streamOptions = {}, fetchImpl = globalThis.fetch?.bind(globalThis),
    heartbeatMs = 1000, tabTimeoutMs = 3000, greetMs = 150, tab = uuid(),
    setTimer = (fn, ms) => setTimeout(fn, ms), setRepeat = (fn, ms) => setInterval(fn, ms),
    clearRepeat = (t) => clearInterval(t), now = () => Date.now(),
    lifecycle = globalThis.document ?? null, page = globalThis.window ?? null } = {}) {
    super();
    const user = token ? userOfToken(token) : userId;
    if (!user) throw new Error("SharedClient needs a userId or a token with a sub claim");
    Object.assign(this, { user, userId, token, origin, base, notifications, locks, socketOptions,
      streamOptions, fetchImpl, heartbeatMs, tabTimeoutMs, greetMs, tab, setTimer, setRepeat,
      clearRepeat, now, lifecycle, page });
    this.BroadcastChannelImpl = BroadcastChannelImpl;
    this.shared = Boolean(shareConnection && locks?.request && BroadcastChannelImpl);
    this.seen = new SeenLog();
    if (lastEventId !== null && lastEventId !== "") this.seen.cursor(lastEventId);
    this.rooms = new Set(); // the rooms this tab wants
    this.unacked = new Map(); // clientMsgId -> chat frame, until acked
    this.readMarks = new Map(); // room -> the read mark sent last, until the server's answer
    this._retried = new Set(); // clientMsgIds sent again after not_joined
    this.role = "idle";
    this.leaderTab = null;
    this.status = "idle";
    this.streamStatus = "idle";
    this.hub = null;
    this.channel = null;
    this._started = false;
    this._closed = false;
    this._abort = null;
    this._resign = null;
    this._lifecycle = {
      freeze: () => this._pause(),
      resume: () => this._unpause(),
      pagehide: (e) => (e.persisted ? this._pause() : this._post({ kind: "bye", tab: this.tab })),
      pageshow: (e) => { if (e.persisted) this._unpause(); },
    };
  }

  get isLeader() {
    return this.hub !== null;
  }

  connect() {
    if (this._started) return this;
    this._started = true;
    if (!this.shared) {
      this._lead();
      return this;
    }
    this.channel = new this.BroadcastChannelImpl(channelName(this.user));
    this.channel.onmessage = (event) => this._onMessage(event.data);
    this.lifecycle?.addEventListener("freeze", this._lifecycle.freeze);
    this.lifecycle?.addEventListener("resume", this._lifecycle.resume);
    this.page?.addEventListener("pagehide", this._lifecycle.pagehide);
    this.page?.addEventListener("pageshow", this._lifecycle.pageshow);
    this._setRole("follower");
    this._toLeader(this._hello()); // a leader already there answers at once
    this._queueForLead();
    return this;
  }

  /** This tab leaves, and the connection goes to another tab (if any). */
  close() {
    this._post({ kind: "bye", tab: this.tab });
    this._end();
  }

  /** Log the user out in every tab: each closes its connection and says "logout". */
  logout() {
    this._post({ kind: "logout" });
    this._end();
    emit(this, "logout", { tab: this.tab });
  }

  /** A renewed token for every tab: the socket is extended with an `auth` frame, and every
   * reconnect uses it. A token of another user is refused (log out instead). */
  setToken(token, { share = true } = {}) {
    if (userOfToken(token) !== this.user) throw new Error("a token for another user");
    this.token = token;
    if (share) this._post({ kind: "token", token });
    this.hub?.handle({ kind: "token", tab: this.tab, token });
    emit(this, "token", { token });
  }

  join(room) {
    this.rooms.add(room);
    this._toLeader({ kind: "join", room, since: this.seen.seq(room) });
  }

  leave(room) {
    this.rooms.delete(room);
    this.seen.forget(room);
    this._toLeader({ kind: "leave", room });
  }

  /** Messages shown from history: resuming starts after them, and they are not shown again. */
  seenMessages(room, messages) {
    for (const message of messages) this.seen.accept({ ...message, room: message.room ?? room });
  }

  /** Send a chat message; returns its clientMsgId. Sent again (same id) until acknowledged. */
  send(room, content, senderName) {
    return this._sendKept(chatFrame(content, { room, senderName }));
  }

  /** Edit a message (one's own, or any with the scope `rooms:moderate`): as `send`. */
  edit(room, messageId, content) {
    return this._sendKept(changeFrame("edit", messageId, { content, room }));
  }

  /** Delete a message (one's own, or any with `rooms:moderate`): as `send`. */
  delete(room, messageId) {
    return this._sendKept(changeFrame("delete", messageId, { room }));
  }

  /** Add this user's `emoji` to a message (`unreact`: take it back): as `send`. */
  react(room, messageId, emoji) {
    return this._sendKept(changeFrame("react", messageId, { emoji, room }));
  }

  unreact(room, messageId, emoji) {
    return this._sendKept(changeFrame("unreact", messageId, { emoji, room }));
  }

  /** Mark `room` read up to `seq` (never back). The server answers with this user's own
   * `read` event ({room, userId, seq, unreadCount, upto}) once stored; the room's other
   * members get `read` events ({room, userId, seq}) of who read up to where. A mark not
   * answered is sent again when the socket reconnects (the same mark twice is harmless). */
  markRead(room, seq) {
    const marked = this.readMarks.get(room);
    if (marked !== undefined && marked >= seq) return;
    this.readMarks.set(room, seq);
    this._toLeader({ kind: "send", frame: { type: "read", payload: { room, seq } } });
  }

  _sendKept(frame) {
    this.unacked.set(frame.payload.clientMsgId, frame);
    this._toLeader({ kind: "send", frame: nextAttempt(frame) });
    return frame.payload.clientMsgId;
  }

  typing(room, isTyping) {
    this._toLeader({ kind: "send", frame: { type: "typing", payload: { room, isTyping } } });
  }

  /** A history page, newest first. The newest page (no `before`) also says where the room
   * stands: an empty room resumes from 0, so that a hand-over misses no first message. */
  async history(room, before, limit = 30) {
    const init = this.token ? { headers: { Authorization: `Bearer ${this.token}` } } : undefined;
    const page = await fetchHistory(room, { before, limit, fetchImpl: this.fetchImpl, base: this.origin, init });
    if ((before === undefined || before === null) && page.messages.length === 0 && this.seen.seq(room) === null) {
      this.seen.lastSeq.set(room, 0);
    }
    return page;
  }

  /** The rooms this user may read, each with the user's `readSeq` and `unreadCount`. */
  async roomsList() {
    const init = this.token ? { headers: { Authorization: `Bearer ${this.token}` } } : undefined;
    const url = this.token ? new URL(`${this.origin}/api/rooms`, this.base) : this._url("/api/rooms");
    return (await fetchJson(this.fetchImpl, url.toString(), init)).rooms ?? [];
  }

  /** Reconnect now (the browser is back online); asks the leader when this tab is not it. */
  retryNow() {
    this._toLeader({ kind: "retry" });
  }

  // -- the connection's address

  _url(path, socket = false) {
    const url = new URL(`${this.origin}${path}`, this.base);
    if (this.token) url.searchParams.set("token", this.token);
    else url.searchParams.set("userId", this.userId);
    return socket ? wsUrl(url.toString()) : url.toString();
  }

  // -- leadership

  _queueForLead() {
    this._abort = new AbortController();
    this.locks.request(channelName(this.user), { signal: this._abort.signal }, () => this._lead())
      .catch(() => {}); // aborted: paused or closed before the lock came
  }

  /** Holds the connection until resigning; with a lock, for as long as its callback runs. */
  async _lead() {
    if (this._closed) return;
    this.hub = new Hub(this);
    this._setRole(this.shared ? "leader" : "alone", this.tab);
    this.hub.router.hello(this.tab, this._hello(), this.now());
    this._post(this._announcement()); // the others greet it, with their rooms and cursors
    if (this.shared && this.greetMs > 0) await new Promise((resolve) => this.setTimer(resolve, this.greetMs));
    if (!this.hub) return; // resigned (frozen, closed) while the others greeted it
    const resigned = new Promise((resolve) => { this._resign = resolve; });
    this.hub.start();
    await resigned;
  }

  _stepDown() {
    const hub = this.hub;
    this.hub = null;
    hub?.stop();
    this._resign?.();
    this._resign = null;
  }

  /** Frozen or put in the back-forward cache: a tab that runs no code cannot lead. */
  _pause() {
    if (this._closed || !this.shared) return;
    this._post({ kind: "bye", tab: this.tab });
    this._stepDown();
    this._abort?.abort();
    this._setRole("follower");
    this.leaderTab = null;
  }

  _unpause() {
    if (this._closed || !this.shared || this.hub) return;
    this._abort?.abort();
    this._toLeader(this._hello());
    this._queueForLead();
  }

  _end() {
    if (this._closed) return;
    this._closed = true;
    this._stepDown();
    this._abort?.abort();
    this.channel?.close();
    this.channel = null;
    this.lifecycle?.removeEventListener("freeze", this._lifecycle.freeze);
    this.lifecycle?.removeEventListener("resume", this._lifecycle.resume);
    this.page?.removeEventListener("pagehide", this._lifecycle.pagehide);
    this.page?.removeEventListener("pageshow", this._lifecycle.pageshow);
    this._setStatus("status", { status: "closed" });
    this._setRole("closed");
  }

  _setRole(role, leaderTab = this.leaderTab) {
    this.role = role;
    this.leaderTab = leaderTab;
    emit(this, "role", { role, tab: this.tab, leaderTab });
  }

  /** "I lead", with where the connection stands: a tab that came after the stream's `ready`
   * learns the stream's position here, and resumes from it should it lead one day. */
  _announcement() {
    return { kind: "leader", tab: this.tab, status: this.hub?.socket?.status ?? "connecting",
      streamStatus: this.hub?.stream?.status ?? "connecting",
      lastEventId: this.hub?.stream?.lastEventId ?? null };
  }

  _hello() {
    const rooms = {};
    for (const room of this.rooms) rooms[room] = this.seen.seq(room);
    return { kind: "hello", tab: this.tab, rooms, lastEventId: this.seen.lastEventId };
  }

  // -- messages between tabs

  _post(msg) {
    if (this.channel && !this._closed) this.channel.postMessage(msg);
  }

  /** To the leader: the hub when this tab leads, else over the channel. */
  _toLeader(msg) {
    if (this._closed) return;
    msg.tab = this.tab;
    if (this.hub) this.hub.handle(msg);
    else this._post(msg);
  }

  /** From the leader to some tabs ("all", or a list of tab ids), this one included. */
  _deliver(to, msg) {
    const others = to === "all" ? "all" : to.filter((tab) => tab !== this.tab);
    if (others === "all" || others.length > 0) this._post({ ...msg, to: others });
    if (to === "all" || to.includes(this.tab)) this._onMessage({ ...msg, to: [this.tab] });
  }

  /** From the leader to every tab, this one included. */
  _share(msg) {
    this._deliver("all", msg);
  }

  _onMessage(msg) {
    if (this._closed || !msg || typeof msg !== "object") return;
    if (msg.to !== undefined && msg.to !== "all" && !msg.to.includes(this.tab)) return;
    switch (msg.kind) {
      case "leader":
        this._onLeader(msg);
        break;
      case "hello": case "join": case "leave": case "send": case "bye": case "beat": case "retry":
        this.hub?.handle(msg);
        break;
      case "token":
        if (userOfToken(msg.token) === this.user) this.setToken(msg.token, { share: false });
        break;
      case "ping":
        if (!this.hub) this._post({ kind: "beat", tab: this.tab });
        break;
      case "frame":
        this._onFrame(msg.frame);
        break;
      case "event":
        this._onEvent(msg.name, msg.data, msg.id);
        break;
      case "status":
        this._setStatus("status", msg.detail);
        break;
      case "stream-status":
        this._setStatus("stream-status", msg.detail);
        break;
      case "online":
        this._resend();
        break;
      case "joined":
        this._onJoined(msg.room, msg.upto);
        break;
      case "logout":
        this._end();
        emit(this, "logout", { tab: msg.tab ?? null });
        break;
      default:
    }
  }

  _onLeader(msg) {
    if (msg.tab === this.tab) return;
    if (this.hub) return; // two leaders cannot be: the lock has one holder
    if (msg.status) this._setStatus("status", { status: msg.status });
    if (msg.streamStatus) this._setStatus("stream-status", { status: msg.streamStatus });
    if (msg.lastEventId) this.seen.cursor(msg.lastEventId);
    if (msg.tab === this.leaderTab) return;
    this._setRole("follower", msg.tab);
    this._toLeader(this._hello());
    this._resend();
  }

  _resend() {
    for (const frame of this.unacked.values()) {
      this._toLeader({ kind: "send", frame: nextAttempt(frame) });
    }
    for (const [room, seq] of this.readMarks) {
      this._toLeader({ kind: "send", frame: { type: "read", payload: { room, seq } } });
    }
  }

  _setStatus(name, detail) {
    if (name === "status") this.status = detail.status;
    else this.streamStatus = detail.status;
    emit(this, name, detail);
  }

  // -- what this tab shows

  _onFrame(frame) {
    const room = frame.room ?? frame.payload?.room ?? null;
    switch (frame.type) {
      case "chat":
      case "edit":
      case "delete":
      case "react":
      case "unreact":
        if (this.rooms.has(room)) this._deliverChat(frame);
        break;
      case "ack":
        if (this.unacked.delete(frame.payload?.clientMsgId)) emit(this, "ack", frame.payload);
        break;
      case "error":
        this._onError(frame.payload ?? {});
        break;
      case "notification":
        if (frame.payload?.id && this.seen.acceptNotification(frame.payload, null)) {
          emit(this, "notification", frame.payload);
        }
        break;
      case "read":
        if (frame.payload?.userId === this.user && (this.readMarks.get(room) ?? -1) <= (frame.payload?.seq ?? -1)) {
          this.readMarks.delete(room); // answered: stored
        }
        if (room !== null && this.rooms.has(room)) emit(this, "read", { room, ...(frame.payload ?? {}) });
        break;
      case "unread":
      case "pong":
      case "auth":
        emit(this, frame.type, frame.payload ?? {});
        break;
      case "joined": // the connection's join: where this tab resumes while it has shown nothing
        if (room !== null && this.rooms.has(room)) {
          this.seen.start(room, frame.payload?.seq);
          emit(this, "joined", { room, ...(frame.payload ?? {}) });
        }
        break;
      default:
        if (room !== null && this.rooms.has(room)) emit(this, frame.type, { room, ...(frame.payload ?? {}) });
    }
  }

  _deliverChat(message, live = true) {
    const before = this.seen.seq(message.room);
    if (!this.seen.accept(message)) return;
    emit(this, ROOM_EVENTS[message.type] ?? "message", message);
    if (live && before !== null && message.seq > before + 1) this._fillGap(message.room, before, message.seq);
  }

  /** This tab joined a room the connection was in already, up to `upto`: fetch what it lacks. */
  _onJoined(room, upto) {
    const last = this.seen.seq(room);
    if (upto !== null && last !== null && last < upto) this._fillGap(room, last, upto + 1);
  }

  async _fillGap(room, after, upto, tries = 4) {
    if (!this.fetchImpl) return;
    try {
      const init = this.token ? { headers: { Authorization: `Bearer ${this.token}` } } : undefined;
      const missed = await fetchMissed(room, after, { fetchImpl: this.fetchImpl, base: this.origin, init });
      for (const message of missed) {
        if (this.rooms.has(room)) this._deliverChat({ ...message, room: message.room ?? room }, false);
      }
      const found = missed.filter((m) => m.seq < upto).length;
      if (found < upto - after - 1 && tries > 1) {
        this.setTimer(() => this._fillGap(room, after, upto, tries - 1), 1000 * 2 ** (4 - tries));
      }
    } catch (error) {
      emit(this, "error", { room, code: "resume_failed", message: String(error.message || error) });
    }
  }

  _onError(error) {
    const frame = this.unacked.get(error.ref);
    if (frame) {
      if (error.code === "not_joined" && !this._retried.has(error.ref)) {
        // it overtook its room's join at a hand-over: once more, after the join
        this._retried.add(error.ref);
        this.setTimer(() => { if (this.unacked.has(error.ref)) this._toLeader({ kind: "send", frame }); }, 1000);
        return;
      }
      // refused for good, unless the service was only unavailable: then it goes again
      if (error.code !== "unavailable") this.unacked.delete(error.ref);
      emit(this, "rejected", { clientMsgId: error.ref, ...error });
    } else if (error.code !== "already_joined") {
      emit(this, "error", error);
    }
  }

  _onEvent(name, data, id) {
    if (name === "notification") {
      if (this.seen.acceptNotification(data, id)) emit(this, "notification", data);
      return;
    }
    if (name === "ready" || name === "reset") this.seen.cursor(id, { reset: name === "reset" });
    emit(this, name, data);
  }
}
