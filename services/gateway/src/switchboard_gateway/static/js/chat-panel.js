// The chat panel: messages (own ones on the right, each with edit and delete), typing
// indicator, online users, and older messages loaded as the list is scrolled to the top. One
// room of the page's SharedClient. Edits and deletions arrive as events of the room ("edit",
// "delete"); history pages show each message in its current state and carry those events too,
// which change nothing already shown that way.
import { showStatus, time } from "./status.js";

const $ = (id) => document.getElementById(id);
const TYPING_IDLE_MS = 3000;
const TYPING_REPEAT_MS = 2000;
const TYPING_SHOWN_MS = 6000;

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
    await this.loadOlder(); // the newest page first; the room resumes after it
    this.client.join(this.room);
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
      if (own && frame.id) el.append(this.actions());
    }
    return el;
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
