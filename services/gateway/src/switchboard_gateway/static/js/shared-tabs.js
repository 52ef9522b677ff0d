// The decisions behind one connection shared by every tab of a browser: no I/O, no timers of
// its own, no browser API. switchboard.js's SharedClient feeds them what happens (a tab joins,
// a frame arrives, a tab goes quiet) and does what they answer.
//
// - TabRouter (the leader's): which tab wants which room, the union the connection joins, whom
//   each frame goes to, where every room resumes from after a reconnect or a hand-over.
// - SeenLog (every tab's): drops what a tab has shown already, by id, and remembers the newest
//   seq and notification cursor it saw, which is what a new leader resumes from.
// - userOfToken, channelName: whose tabs may share (one user of one origin).

/** A room's frames that carry a seq (its events, counted for resume), and the event each is
 * emitted as: a message, an edit or a deletion of one, a reaction added to one or taken back. */
// Without a prototype: a frame typed "constructor" or "toString" is no room event.
export const ROOM_EVENTS = Object.freeze(Object.assign(Object.create(null), {
  chat: "message", edit: "edit", delete: "delete", react: "react", unreact: "unreact",
}));

/** The `sub` claim of a JWT, read without checking the signature: only to tell users apart. */
export function userOfToken(token) {
  try {
    const part = String(token).split(".")[1];
    const base64 = part.replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
    const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
    const sub = JSON.parse(new TextDecoder().decode(bytes)).sub;
    return typeof sub === "string" && sub ? sub : null;
  } catch {
    return null;
  }
}

/** The lock and BroadcastChannel name of a user's tabs (both are per origin already). */
export function channelName(user) {
  return `switchboard:${user}`;
}

function laterCursor(a, b) {
  if (a === null || a === undefined || a === "") return b ?? null;
  if (b === null || b === undefined || b === "") return a;
  return Number(b) > Number(a) ? b : a;
}

function earlierCursor(a, b) {
  if (a === null || a === undefined || a === "") return b ?? null;
  if (b === null || b === undefined || b === "") return a;
  return Number(b) < Number(a) ? b : a;
}

/**
 * The leader's routing table. Each tab (its id) wants some rooms, each with the newest seq it
 * has seen (`since`, null when it has seen none); the connection is joined to their union.
 * Answers are plain objects saying what to send: {join: room, since} or {leave: room}.
 */
export class TabRouter {
  constructor() {
    this.tabs = new Map(); // tab -> {rooms: Map room -> since, lastEventId, seenAt}
    this.routedSeq = new Map(); // room -> newest seq routed to its tabs since it was joined
  }

  _tab(tab, now) {
    let entry = this.tabs.get(tab);
    if (!entry) {
      entry = { rooms: new Map(), lastEventId: null, seenAt: now ?? 0 };
      this.tabs.set(tab, entry);
    }
    if (now !== undefined && now > entry.seenAt) entry.seenAt = now;
    return entry;
  }

  /** A tab says it is alive (any message from it counts). */
  beat(tab, now) {
    this._tab(tab, now);
  }

  /** A tab's whole state (it greets a new leader): its rooms and the cursor of its stream.
   * Answers the rooms to join (those no tab wanted before). */
  hello(tab, { rooms = {}, lastEventId = null } = {}, now) {
    const entry = this._tab(tab, now);
    entry.lastEventId = lastEventId;
    const actions = [];
    for (const [room, since] of Object.entries(rooms)) actions.push(...this.want(tab, room, since, now));
    return actions;
  }

  /** A tab joins a room; answers [{join}] when the connection must join it now. */
  want(tab, room, since = null, now) {
    const fresh = !this.wanted(room);
    this._tab(tab, now).rooms.set(room, since ?? null);
    return fresh ? [{ join: room, since: this.since(room) }] : [];
  }

  /** A tab leaves a room; answers [{leave}] when no tab wants it any more. */
  unwant(tab, room) {
    const entry = this.tabs.get(tab);
    if (!entry?.rooms.delete(room)) return [];
    return this.wanted(room) ? [] : this._left(room);
  }

  _left(room) {
    this.routedSeq.delete(room);
    return [{ leave: room }];
  }

  /** A tab is gone (closed, or said nothing for too long): the rooms nobody else wants. */
  remove(tab) {
    const entry = this.tabs.get(tab);
    if (!entry) return [];
    this.tabs.delete(tab);
    return [...entry.rooms.keys()].filter((room) => !this.wanted(room)).flatMap((r) => this._left(r));
  }

  /** Drops the tabs not heard from since `before` (the leader's last ping), but never `keep`
   * (the leader's own tab): a closed, crashed or frozen tab answers no ping. */
  expire(before, keep = null) {
    const gone = [...this.tabs].filter(([tab, e]) => tab !== keep && e.seenAt < before);
    return { tabs: gone.map(([tab]) => tab), actions: gone.flatMap(([tab]) => this.remove(tab)) };
  }

  wanted(room) {
    for (const entry of this.tabs.values()) if (entry.rooms.has(room)) return true;
    return false;
  }

  /** The union of every tab's rooms: what the connection is joined to. */
  rooms() {
    const all = new Set();
    for (const entry of this.tabs.values()) for (const room of entry.rooms.keys()) all.add(room);
    return [...all];
  }

  tabsFor(room) {
    return [...this.tabs].filter(([, e]) => e.rooms.has(room)).map(([tab]) => tab);
  }

  /**
   * Where a room resumes from: the newest seq routed to its tabs on this connection (each of
   * them got it); before anything was routed, the oldest `since` of the tabs that want it, so
   * that no tab misses a message (each tab drops what it saw already). null: nothing to resume.
   */
  since(room) {
    if (this.routedSeq.has(room)) return this.routedSeq.get(room);
    let oldest = null;
    for (const entry of this.tabs.values()) {
      const since = entry.rooms.get(room);
      if (typeof since === "number" && (oldest === null || since < oldest)) oldest = since;
    }
    return oldest;
  }

  /** Where the notification stream resumes from: the oldest cursor a tab reported. */
  lastEventId() {
    let oldest = null;
    for (const entry of this.tabs.values()) oldest = earlierCursor(oldest, entry.lastEventId);
    return oldest;
  }

  /**
   * Whom a server frame goes to: {to: [tabs]} for a frame about a room (only the tabs in it),
   * {to: "all"} for the user's own frames (notifications, unread counts, errors about a
   * message, which the tab that sent it recognises by its clientMsgId).
   */
  route(frame) {
    const room = frame.room ?? frame.payload?.room ?? null;
    if (frame.type === "error") {
      const ref = frame.payload?.ref;
      return { to: typeof ref === "string" && this.wanted(ref) ? this.tabsFor(ref) : "all", room: null };
    }
    if (room === null) return { to: "all", room: null };
    if (typeof frame.seq === "number" && ROOM_EVENTS[frame.type]) {
      const routed = this.routedSeq.get(room);
      if (routed === undefined || frame.seq > routed) this.routedSeq.set(room, frame.seq);
    }
    return { to: this.tabsFor(room), room };
  }
}

/**
 * What one tab has shown: ids per room (and of notifications), the newest seq per room, the
 * newest notification cursor. `accept` answers whether a frame is new to this tab.
 */
export class SeenLog {
  constructor(maxRemembered = 2000) {
    this.maxRemembered = maxRemembered;
    this.ids = new Set();
    this.lastSeq = new Map(); // room -> newest seq
    this.lastEventId = null;
  }

  _remember(id) {
    this.ids.add(id);
    if (this.ids.size > this.maxRemembered) this.ids.delete(this.ids.values().next().value);
  }

  /** A chat message: new (and remembered) or already shown. */
  accept(message) {
    const key = message.id ? `m:${message.id}` : null;
    if (key && this.ids.has(key)) return false;
    if (key) this._remember(key);
    const room = message.room;
    if (room && typeof message.seq === "number") {
      const last = this.lastSeq.get(room);
      if (last === undefined || last === null || message.seq > last) this.lastSeq.set(room, message.seq);
    }
    return true;
  }

  /** A notification (over the stream or the socket): new or already shown. Only the stream's
   * event id (`cursor`) moves the resume point: the socket's copies are live only. */
  acceptNotification(notification, cursor = null) {
    this.lastEventId = laterCursor(this.lastEventId, cursor);
    if (!notification?.id) return false;
    const key = `n:${notification.id}`;
    if (this.ids.has(key)) return false;
    this._remember(key);
    return true;
  }

  /** The stream said where it stands (`ready`) or started over (`reset`). */
  cursor(id, { reset = false } = {}) {
    this.lastEventId = reset ? id : laterCursor(this.lastEventId, id);
  }

  seq(room) {
    return this.lastSeq.get(room) ?? null;
  }

  /** The room was joined at `seq`: the resume point while nothing of it was shown. */
  start(room, seq) {
    if (typeof seq === "number" && this.seq(room) === null) this.lastSeq.set(room, seq);
  }

  forget(room) {
    this.lastSeq.delete(room);
  }
}
