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
// - EventStream: Server-Sent Events (notifications, dashboards) with resume by Last-Event-ID
//   (the browser's own, or the lastEventId parameter when it has to start over).
//
// Every class is an EventTarget; listen with addEventListener(name, e => e.detail).

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
  base = "" } = {}) {
  const query = new URLSearchParams({ limit: String(limit) });
  if (before !== undefined && before !== null) query.set("before", String(before));
  return fetchJson(fetchImpl, `${base}/api/rooms/${encodeURIComponent(room)}/messages?${query}`);
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

function chatFrame(content, { clientMsgId = uuid(), senderName, room } = {}) {
  const payload = { content, clientMsgId };
  if (senderName) payload.senderName = senderName;
  if (room) payload.room = room;
  return { type: "chat", payload, timestamp: Date.now() };
}

/**
 * One room over /chat/{room}. Events: "message" (a chat frame, each once, in order), "ack",
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
    const frame = chatFrame(content, { senderName: this.senderName });
    this.state.unacked.set(frame.payload.clientMsgId, frame);
    this.socket.send(frame);
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
      if (!queued.has(JSON.stringify(frame))) this.socket.send(frame);
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
    emit(this, "message", message);
    // a live message further on than the next one: fetch what is in between
    if (live && before !== null && message.seq > before + 1 && this.fetchImpl) {
      this._fillGap(before, message.seq);
    }
  }

  _onFrame(frame) {
    switch (frame.type) {
      case "chat":
        this._deliver(frame);
        break;
      case "ack":
        this.state.unacked.delete(frame.payload?.clientMsgId);
        emit(this, "ack", frame.payload);
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
    const frame = chatFrame(content, { room, senderName });
    this.rooms.get(room)?.unacked.set(frame.payload.clientMsgId, frame);
    this.socket.send(frame);
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
        if (!queued.has(JSON.stringify(frame))) this.socket.send(frame);
      }
    }
  }

  _onFrame(frame) {
    const room = frame.room ?? frame.payload?.room;
    const state = this.rooms.get(room);
    if (frame.type === "chat") {
      if (!state || state.accept(frame)) emit(this, "message", frame);
    } else if (frame.type === "ack") {
      state?.unacked.delete(frame.payload?.clientMsgId);
      emit(this, "ack", frame.payload);
    } else {
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
