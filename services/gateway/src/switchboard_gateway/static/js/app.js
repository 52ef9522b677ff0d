// The demo page: a chat room, a notification centre and a live dashboard, each a panel.
// Who and where come from the URL (?user=&room=&team=), else from the last visit.
import { ChatPanel } from "./chat-panel.js";
import { DashboardPanel } from "./dashboard-panel.js";
import { NotificationsPanel } from "./notifications-panel.js";

const $ = (id) => document.getElementById(id);
const ID = /^[A-Za-z0-9_-]{1,64}$/;

function pick(name, fallback) {
  const value = new URLSearchParams(location.search).get(name) ?? localStorage.getItem(`sb-${name}`);
  return value && ID.test(value) ? value : fallback;
}

const settings = {
  user: pick("user", `user-${Math.random().toString(16).slice(2, 6)}`),
  room: pick("room", "lobby"),
  team: pick("team", "ops"),
};
for (const [key, value] of Object.entries(settings)) $(key).value = value;

const notifications = new NotificationsPanel(settings);
const panels = {
  chat: new ChatPanel(settings, { onNotification: (n) => notifications.receive(n) }),
  notifications,
  dashboard: new DashboardPanel(settings),
};
for (const panel of Object.values(panels)) panel.start();

$("identity").addEventListener("submit", (event) => {
  event.preventDefault();
  for (const key of Object.keys(settings)) {
    settings[key] = $(key).value;
    localStorage.setItem(`sb-${key}`, settings[key]);
  }
  const url = new URL(location.href);
  url.search = new URLSearchParams(settings).toString();
  history.replaceState(null, "", url);
  for (const panel of Object.values(panels)) panel.restart(settings);
});

// Back online: do not wait for the next backoff step.
addEventListener("online", () => panels.chat.room?.socket.retryNow());
globalThis.switchboardDemo = panels; // for the curious, in the console
