// The notification centre: a live stream (toasts, and desktop notifications once allowed),
// the inbox with its unread badge, and a form to send one. The live part comes from the page's
// SharedClient, which has each notification once, over the stream or the socket.
import { showStatus, time } from "./status.js";

const $ = (id) => document.getElementById(id);
const TOAST_MS = 6000;
const CURSOR_KEY = "sb-notify-cursor";

export class NotificationsPanel {
  static CURSOR_KEY = CURSOR_KEY;

  constructor(settings, client) {
    this.settings = settings;
    this.client = client;
    this.shown = new Set(); // notification ids already toasted
    $("notify-form").addEventListener("submit", (event) => this.send(event));
    $("read-all").addEventListener("click", () => this.readAll());
    $("notify-permission").addEventListener("click", () => this.askPermission());
    this.showPermission();
  }

  start() {
    const { user } = this.settings;
    const client = this.client;
    $("notify-user").value ||= user;
    showStatus($("notify-status"), { status: "connecting" });
    client.addEventListener("stream-status", (e) => showStatus($("notify-status"), e.detail));
    client.addEventListener("notification", (e) => {
      localStorage.setItem(`${CURSOR_KEY}-${user}`, client.seen.lastEventId ?? "");
      this.receive(e.detail);
    });
    client.addEventListener("unread", (e) => this.badge(e.detail.unreadCount));
    client.addEventListener("reset", () => this.loadInbox());
    this.loadInbox();
  }

  api(path, init) {
    const query = new URLSearchParams({ userId: this.settings.user });
    return fetch(`/api/notifications${path}${path.includes("?") ? "&" : "?"}${query}`, init)
      .then(async (response) => {
        const body = await response.json().catch(() => ({}));
        if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
        return body;
      });
  }

  receive(notification) {
    if (!notification?.id || this.shown.has(notification.id)) return;
    this.shown.add(notification.id);
    this.toast(notification);
    this.desktop(notification);
    this.prepend(notification);
    if (!notification.read) this.badge(Number($("unread-badge").textContent || 0) + 1);
  }

  toast({ type = "info", title, message }) {
    const el = document.createElement("div");
    el.className = `toast ${type}`;
    el.setAttribute("role", "status");
    const strong = document.createElement("strong");
    strong.textContent = title;
    const body = document.createElement("div");
    body.textContent = message;
    el.append(strong, body);
    $("toasts").append(el);
    setTimeout(() => el.remove(), TOAST_MS);
  }

  desktop({ id, title, message }) {
    if (!("Notification" in globalThis) || Notification.permission !== "granted") return;
    if (document.visibilityState === "visible") return; // the toast says it already
    new Notification(title, { body: message, tag: id });
  }

  async askPermission() {
    if ("Notification" in globalThis) await Notification.requestPermission();
    this.showPermission();
  }

  showPermission() {
    const button = $("notify-permission");
    const state = "Notification" in globalThis ? Notification.permission : "unsupported";
    button.hidden = state !== "default";
  }

  item(notification) {
    const li = document.createElement("li");
    li.className = `notice ${notification.type ?? "info"}${notification.read ? "" : " unread"}`;
    li.dataset.id = notification.id;
    const title = document.createElement("div");
    title.textContent = notification.title;
    const meta = document.createElement("div");
    meta.className = "meta";
    meta.textContent = `${notification.type ?? "info"} · ${time(notification.timestamp ?? Date.now())} · ${notification.message}`;
    li.append(title, meta);
    li.addEventListener("click", () => this.read(li));
    return li;
  }

  prepend(notification) {
    const inbox = $("inbox");
    if (inbox.querySelector(`[data-id="${CSS.escape(notification.id)}"]`)) return;
    inbox.prepend(this.item(notification));
  }

  badge(count) {
    const badge = $("unread-badge");
    badge.textContent = String(count);
    badge.hidden = !count;
  }

  async loadInbox() {
    try {
      const page = await this.api("?limit=30");
      const inbox = $("inbox");
      inbox.replaceChildren(...page.notifications.map((n) => this.item(n)));
      for (const n of page.notifications) this.shown.add(n.id);
      this.badge(page.unreadCount ?? 0);
    } catch (error) {
      $("inbox").replaceChildren(Object.assign(document.createElement("li"), {
        className: "system", textContent: `inbox unavailable: ${error.message}`,
      }));
    }
  }

  async read(li) {
    if (!li.classList.contains("unread")) return;
    try {
      const answer = await this.api(`/${encodeURIComponent(li.dataset.id)}/read`, { method: "POST" });
      li.classList.remove("unread");
      this.badge(answer.unreadCount ?? 0);
    } catch (error) {
      this.toast({ type: "error", title: "Could not mark as read", message: error.message });
    }
  }

  async readAll() {
    try {
      const answer = await this.api("/read-all", { method: "POST" });
      for (const li of $("inbox").querySelectorAll(".unread")) li.classList.remove("unread");
      this.badge(answer.unreadCount ?? 0);
    } catch (error) {
      this.toast({ type: "error", title: "Could not mark all read", message: error.message });
    }
  }

  async send(event) {
    event.preventDefault();
    const result = $("notify-result");
    const body = {
      userId: $("notify-user").value,
      type: $("notify-type").value,
      title: $("notify-title").value,
      message: $("notify-message").value,
    };
    try {
      const response = await fetch("/api/notifications/send", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
      });
      const answer = await response.json().catch(() => ({}));
      if (!response.ok) throw new Error(answer.error || `HTTP ${response.status}`);
      result.textContent = "sent";
      $("notify-title").value = "";
      $("notify-message").value = "";
    } catch (error) {
      result.textContent = `not sent: ${error.message}`;
    }
  }
}
