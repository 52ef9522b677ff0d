// The chat panel: messages (own ones on the right, each with edit and delete; any with
// reactions, a chip per emoji with its count, clicked to add or take back one's own; own ones
// say who has read them), the room's unread count (marked read while the page is visible, or
// with "Mark read"), typing
// indicator, online users, and older messages loaded as the list is scrolled to the top. One
// room of the page's SharedClient. Edits and deletions arrive as events of the room ("edit",
// "delete"); history pages show each message in its current state and carry those events too,
// which change nothing already shown that way.
import { showStatus, time } from "./status.js";

const $ = (id) => document.getElementById(id);
const TYPING_IDLE_MS = 3000;
const TYPING_REPEAT_MS = 2000;
const TYPING_SHOWN_MS = 6000;
const QUICK_EMOJI = ["👍", "❤️", "😂"];
const ROOMS_REFRESH_MS = 15_000;

export class ChatPanel {
  constructor(settings, client) {
    this.settings = settings;
    this.client = client;
    this.room = settings.room;
    this.oldestSeq = null;
    this.hasMore = true;
    this.loading = false;
    this.typers = new Map(); // userId -> expiry
    this.typingSentAt = 0;
    this.typingTimer = null;
    this.editing = null; // the id of the own message the input edits, or null
    this.readBy = new Map(); // another member -> the seq they have read up to
    this.unread = 0; // this user's unread messages in the room (the server's count, kept)
    this.upto = null; // the seq the server's count went up to
    this.newestSeq = 0; // the newest seq of the room seen here (any event)
    this.markTimer = null;
    this.placeholder = $("chat-input").placeholder;
    $("chat-form").addEventListener("submit", (event) => this.onSubmit(event));
    $("chat-input").addEventListener("input", () => this.onInput());
    $("chat-input").addEventListener("keydown", (e) => { if (e.key === "Escape") this.stopEditing(); });
    $("messages").addEventListener("click", (event) => this.onAction(event));
    $("messages").addEventListener("scroll", () => this.onScroll());
    setInterval(() => this.renderTyping(), 1000);
    const mine = (handler) => (e) => { if (e.detail?.room === this.room) handler(e.detail); };
    client.addEventListener("status", (e) => showStatus($("chat-status"), e.detail));
    client.addEventListener("message", mine((frame) => this.append(frame)));
    client.addEventListener("edit", mine((frame) => this.edited(frame)));
    client.addEventListener("delete", mine((frame) => this.deleted(frame)));
    client.addEventListener("react", mine((frame) => this.reacted(frame, true)));
    client.addEventListener("unreact", mine((frame) => this.reacted(frame, false)));
    client.addEventListener("read", mine((payload) => this.readMark(payload)));
    for (const name of ["edit", "delete", "react", "unreact"]) {
      client.addEventListener(name, mine((frame) => this.seenSeq(frame.seq)));
    }
    $("mark-room-read").addEventListener("click", () => this.client.markRead(this.room, this.newestSeq));
    document.addEventListener("visibilitychange", () => this.markSoon());
    setInterval(() => this.loadRooms(), ROOMS_REFRESH_MS);
    client.addEventListener("ack", mine((payload) => this.acked(payload)));
    client.addEventListener("typing", mine((payload) => this.typing(payload)));
    client.addEventListener("presence", mine((payload) => this.presence(payload)));
    client.addEventListener("replay", mine(({ recovered }) => { if (!recovered) this.start(); }));
    client.addEventListener("rejected", (e) => this.rejected(e.detail));
    client.addEventListener("error", (e) => {
      // a frame type this gateway does not know (typing, presence on an older one): not news
      if (e.detail.code !== "unknown_type") this.system(`error: ${e.detail.message ?? e.detail.code}`);
    });
  }

  async start() {
    $("messages").replaceChildren();
    showStatus($("chat-status"), { status: this.client.status === "idle" ? "connecting" : this.client.status });
    this.oldestSeq = null;
    this.hasMore = true;
    this.typers.clear();
    this.renderTyping();
    this.readBy.clear();
    this.unread = 0;
    this.upto = null;
    this.newestSeq = 0;
    this.renderUnread();
    await this.loadOlder(); // the newest page first; the room resumes after it
    this.client.join(this.room);
    await this.loadRooms();
  }

  /** The rooms list, each with this user's unread count (this room's is the live one). */
  async loadRooms() {
    let rooms;
    try {
      rooms = await this.client.roomsList();
    } catch {
      return; // kept as it was; tried again at the next refresh
    }
    $("rooms").replaceChildren(...rooms.map((room) => {
      const li = document.createElement("li");
      li.dataset.room = room.id;
      const link = document.createElement("a");
      link.href = `?user=${encodeURIComponent(this.settings.user)}&room=${encodeURIComponent(room.id)}`;
      link.textContent = room.name || room.id;
      li.append(link);
      const count = room.id === this.room ? this.unread : room.unreadCount ?? 0;
      if (room.id === this.room) li.classList.add("current");
      const badge = document.createElement("span");
      badge.className = "badge";
      badge.textContent = count >= 1000 ? "999+" : String(count);
      badge.hidden = count <= 0;
      li.append(" ", badge);
      return li;
    }));
  }

  // -- read receipts and the unread count

  seenSeq(seq) {
    if (typeof seq === "number" && seq > this.newestSeq) this.newestSeq = seq;
    this.markSoon();
  }

  /** Marked read while the page is seen: once things settle, up to the newest seq. */
  markSoon() {
    if (document.visibilityState !== "visible" || this.newestSeq === 0) return;
    clearTimeout(this.markTimer);
    this.markTimer = setTimeout(() => this.client.markRead(this.room, this.newestSeq), 300);
  }

  readMark({ userId, seq, unreadCount, upto }) {
    if (userId === this.settings.user) {
      if (typeof unreadCount === "number") {
        this.unread = unreadCount;
        this.upto = upto ?? seq;
        this.renderUnread();
      }
      return;
    }
    if (!userId || typeof seq !== "number" || (this.readBy.get(userId) ?? -1) >= seq) return;
    this.readBy.set(userId, seq);
    for (const el of $("messages").querySelectorAll(".msg.own[data-seq]")) this.renderSeen(el);
  }

  renderUnread() {
    const listed = $("rooms").querySelector(`li[data-room="${CSS.escape(this.room)}"] .badge`);
    if (listed) {
      listed.textContent = this.unread >= 1000 ? "999+" : String(this.unread);
      listed.hidden = this.unread <= 0;
    }
    const badge = $("room-unread");
    badge.textContent = this.unread >= 1000 ? "999+" : String(this.unread);
    badge.hidden = this.unread <= 0;
    $("mark-room-read").hidden = this.unread <= 0;
  }

  renderSeen(el) {
    const seq = Number(el.dataset.seq);
    if (!el.dataset.seq || el.classList.contains("deleted")) return;
    const readers = [...this.readBy].filter(([, upto]) => upto >= seq).map(([user]) => user);
    let seen = el.querySelector(".seen");
    if (readers.length === 0) {
      seen?.remove();
      return;
    }
    if (!seen) {
      seen = document.createElement("div");
      seen.className = "seen";
      el.append(seen);
    }
    seen.textContent = `seen by ${readers.sort().join(", ")}`;
  }

  // -- messages

  render(frame) {
    const el = document.createElement("div");
    const own = frame.senderId === this.settings.user;
    el.className = own ? "msg own" : "msg";
    el.dataset.seq = frame.seq ?? "";
    el.dataset.id = frame.id ?? "";
    const who = document.createElement("div");
    who.className = "who";
    const name = frame.payload?.senderName || frame.senderId;
    who.textContent = `${name} · ${time(frame.timestamp)}`;
    const body = document.createElement("div");
    body.className = "content";
    body.textContent = frame.payload?.content ?? ""; // text, never markup
    el.append(who, body);
    if (frame.payload?.deleted) this.tombstone(el);
    else {
      if (frame.payload?.editCount) this.markEdited(el);
      if (frame.id) {
        // the message's reactions now: emoji -> {count (exact), users (the first ones listed)}
        el.reactions = new Map((frame.payload?.reactions ?? []).map(
          (r) => [r.emoji, { count: r.count, users: new Set(r.users ?? []) }]));
        el.append(this.reactionBar(el));
        if (own) el.append(this.actions());
      }
    }
    return el;
  }

  /** The chips of a message's reactions, and quick ones to add. */
  reactionBar(el) {
    const bar = document.createElement("div");
    bar.className = "reactions";
    for (const [emoji, { count, users }] of el.reactions) {
      if (count <= 0) continue;
      bar.append(this.chip(emoji, `${emoji} ${count}`, users.has(this.settings.user)));
    }
    for (const emoji of QUICK_EMOJI) {
      if (!el.reactions.get(emoji)?.count) bar.append(this.chip(emoji, `+${emoji}`, false, "quick"));
    }
    return bar;
  }

  chip(emoji, text, mine, extra = "") {
    const button = document.createElement("button");
    button.type = "button";
    button.className = ["reaction", mine ? "mine" : "", extra].filter(Boolean).join(" ");
    button.dataset.emoji = emoji;
    button.textContent = text;
    return button;
  }

  /** A live reaction added or taken back: a set operation on (emoji, user), as the protocol
   * says; counts beyond the users listed move with the events. */
  reacted(frame, added) {
    const el = this.shown(frame.payload?.messageId);
    if (!el?.reactions || el.classList.contains("deleted")) return;
    const emoji = frame.payload.emoji;
    const entry = el.reactions.get(emoji) ?? { count: 0, users: new Set() };
    const has = entry.users.has(frame.senderId);
    if (added && !has) {
      entry.users.add(frame.senderId);
      entry.count += 1;
    } else if (!added && has) {
      entry.users.delete(frame.senderId);
      entry.count -= 1;
    }
    el.reactions.set(emoji, entry);
    el.querySelector(".reactions").replaceWith(this.reactionBar(el));
  }

  actions() {
    const bar = document.createElement("div");
    bar.className = "actions";
    for (const action of ["edit", "delete"]) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = action;
      button.dataset.action = action;
      button.textContent = action;
      bar.append(button);
    }
    return bar;
  }

  markEdited(el) {
    if (el.querySelector(".edited")) return;
    const mark = document.createElement("span");
    mark.className = "edited";
    mark.textContent = " (edited)";
    el.querySelector(".who").append(mark);
  }

  tombstone(el) {
    el.classList.add("deleted");
    el.querySelector(".content").textContent = "message deleted";
    el.querySelector(".actions")?.remove();
    el.querySelector(".reactions")?.remove();
    el.querySelector(".edited")?.remove();
    if (this.editing === el.dataset.id) this.stopEditing();
  }

  /** A live edit: the message shown gets its new content (unless deleted meanwhile). */
  edited(frame) {
    const el = this.shown(frame.payload?.messageId);
    if (!el || el.classList.contains("deleted")) return;
    el.querySelector(".content").textContent = frame.payload.content ?? "";
    this.markEdited(el);
  }

  deleted(frame) {
    const el = this.shown(frame.payload?.messageId);
    if (el) this.tombstone(el);
  }

  shown(messageId) {
    return messageId ? $("messages").querySelector(`.msg[data-id="${CSS.escape(messageId)}"]`) : null;
  }

  onAction(event) {
    const chip = event.target.closest("button.reaction");
    if (chip) {
      const el = chip.closest(".msg");
      if (!el?.dataset.id) return;
      const mine = el.reactions?.get(chip.dataset.emoji)?.users.has(this.settings.user);
      if (mine) this.client.unreact(this.room, el.dataset.id, chip.dataset.emoji);
      else this.client.react(this.room, el.dataset.id, chip.dataset.emoji);
      return;
    }
    const button = event.target.closest("button[data-action]");
    const el = button?.closest(".msg");
    if (!el?.dataset.id) return;
    if (button.dataset.action === "delete") {
      this.client.delete(this.room, el.dataset.id);
      return;
    }
    this.editing = el.dataset.id;
    const input = $("chat-input");
    input.value = el.querySelector(".content").textContent;
    input.placeholder = "edit the message (Esc: cancel)";
    $("chat-form").classList.add("editing");
    input.focus();
  }

  stopEditing() {
    this.editing = null;
    $("chat-input").placeholder = this.placeholder;
    $("chat-form").classList.remove("editing");
  }

  append(frame) {
    const list = $("messages");
    const pending = frame.payload?.clientMsgId &&
      list.querySelector(`.msg.pending[data-client-msg-id="${CSS.escape(frame.payload.clientMsgId)}"]`);
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    const el = this.render(frame);
    if (pending) pending.replaceWith(el);
    else {
      // in seq order, even when a resumed gap arrives after newer ones
      const later = [...list.querySelectorAll(".msg:not(.pending)")]
        .find((m) => m.dataset.seq && Number(m.dataset.seq) > frame.seq);
      list.insertBefore(el, later ?? list.querySelector(".msg.pending"));
    }
    if (this.oldestSeq === null || frame.seq < this.oldestSeq) this.oldestSeq = frame.seq;
    if (atBottom || frame.senderId === this.settings.user) list.scrollTop = list.scrollHeight;
    if (frame.senderId !== this.settings.user && this.upto !== null && frame.seq > this.upto) {
      this.unread += 1; // the server's count, kept from there
      this.upto = frame.seq;
      this.renderUnread();
    }
    if (el.classList.contains("own")) this.renderSeen(el);
    this.seenSeq(frame.seq);
    this.typers.delete(frame.senderId);
    this.renderTyping();
  }

  acked() {}

  rejected({ clientMsgId, code, message }) {
    const el = $("messages").querySelector(`.msg.pending[data-client-msg-id="${CSS.escape(clientMsgId)}"]`);
    if (!el) return;
    if (code === "unavailable") {
      el.title = `${message} (sent again on reconnect)`;
      return;
    }
    el.classList.replace("pending", "failed");
    el.title = message;
    const why = document.createElement("div");
    why.className = "why";
    why.textContent = `not sent: ${message}`;
    el.append(why);
  }

  onSubmit(event) {
    event.preventDefault();
    const input = $("chat-input");
    const content = input.value.trim();
    if (!content) return;
    if (this.editing !== null) {
      this.client.edit(this.room, this.editing, content); // shown when the edit comes back
      input.value = "";
      this.stopEditing();
      return;
    }
    const clientMsgId = this.client.send(this.room, content, this.settings.user);
    const el = this.render({
      senderId: this.settings.user, timestamp: Date.now(), payload: { content, senderName: this.settings.user },
    });
    el.classList.add("pending");
    el.dataset.clientMsgId = clientMsgId;
    $("messages").append(el);
    $("messages").scrollTop = $("messages").scrollHeight;
    input.value = "";
    this.stopTyping();
  }

  system(text) {
    const el = document.createElement("div");
    el.className = "system";
    el.textContent = text;
    $("messages").append(el);
  }

  // -- infinite scroll

  onScroll() {
    if ($("messages").scrollTop < 40) this.loadOlder();
  }

  async loadOlder() {
    if (this.loading || !this.hasMore) return;
    this.loading = true;
    const status = $("history-status");
    status.hidden = false;
    status.textContent = "loading older messages…";
    const list = $("messages");
    const before = list.scrollHeight - list.scrollTop;
    try {
      const page = await this.client.history(this.room, this.oldestSeq ?? undefined, 30);
      this.hasMore = page.hasMore;
      const messages = page.messages.filter((m) => !list.querySelector(`[data-id="${CSS.escape(m.id)}"]`));
      this.client.seenMessages(this.room, messages); // every event counts for resume
      // the messages in their current state; the page's edit and delete events are in it
      const shown = messages.filter((m) => (m.type ?? "chat") === "chat");
      list.prepend(...shown.reverse().map((m) => this.render(m)));
      for (const m of messages) if (this.oldestSeq === null || m.seq < this.oldestSeq) this.oldestSeq = m.seq;
      for (const m of messages) this.seenSeq(m.seq);
      list.scrollTop = list.scrollHeight - before; // keep what the reader was looking at
      status.hidden = this.hasMore;
      status.textContent = this.hasMore ? "" : "the beginning of the room";
    } catch (error) {
      status.textContent = `history unavailable: ${error.message}`;
    } finally {
      this.loading = false;
    }
  }

  // -- typing

  onInput() {
    const now = Date.now();
    if (now - this.typingSentAt > TYPING_REPEAT_MS) {
      this.client.typing(this.room, true);
      this.typingSentAt = now;
    }
    clearTimeout(this.typingTimer);
    this.typingTimer = setTimeout(() => this.stopTyping(), TYPING_IDLE_MS);
  }

  stopTyping() {
    clearTimeout(this.typingTimer);
    if (this.typingSentAt) this.client.typing(this.room, false);
    this.typingSentAt = 0;
  }

  typing({ userId, isTyping }) {
    if (!userId || userId === this.settings.user) return;
    if (isTyping) this.typers.set(userId, Date.now() + TYPING_SHOWN_MS);
    else this.typers.delete(userId);
    this.renderTyping();
  }

  renderTyping() {
    const now = Date.now();
    for (const [user, until] of this.typers) if (until < now) this.typers.delete(user);
    const names = [...this.typers.keys()];
    $("typing").textContent = names.length === 0 ? ""
      : names.length === 1 ? `${names[0]} is typing…`
      : `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]} are typing…`;
  }

  // -- presence

  presence({ onlineUsers = [], count }) {
    const list = $("online");
    list.replaceChildren(...onlineUsers.map((u) => {
      const li = document.createElement("li");
      li.textContent = u.userId;
      li.dataset.user = u.userId;
      return li;
    }));
    $("online-count").textContent = String(count ?? onlineUsers.length);
  }
}
