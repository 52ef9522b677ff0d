// The demo page: a chat room, a notification centre and a live dashboard, each a panel, all
// over one SharedClient: the user's tabs share one WebSocket and one notification stream, held
// by one of them (the header says which). ?share=off gives this tab a connection of its own.
// Who and where come from the URL (?user=&room=&team=), else from the last visit.
import { ChatPanel } from "./chat-panel.js";
import { DashboardPanel } from "./dashboard-panel.js";
import { NotificationsPanel } from "./notifications-panel.js";
import { SharedClient } from "./switchboard.js";

const $ = (id) => document.getElementById(id);
const ID = /^[A-Za-z0-9_-]{1,64}$/;
const query = new URLSearchParams(location.search);

function pick(name, fallback) {
  const value = query.get(name) ?? localStorage.getItem(`sb-${name}`);
  return value && ID.test(value) ? value : fallback;
}

const settings = {
  user: pick("user", `user-${Math.random().toString(16).slice(2, 6)}`),
  room: pick("room", "lobby"),
  team: pick("team", "ops"),
};
for (const [key, value] of Object.entries(settings)) $(key).value = value;

const client = new SharedClient({
  userId: settings.user,
  shareConnection: query.get("share") !== "off",
  lastEventId: localStorage.getItem(`${NotificationsPanel.CURSOR_KEY}-${settings.user}`),
});

const ROLES = {
  leader: "this tab holds the connection",
  follower: "connected through another tab",
  alone: "this tab's own connection",
  closed: "logged out",
};
client.addEventListener("role", (e) => {
  const role = $("tab-role");
  role.dataset.role = e.detail.role;
  role.textContent = ROLES[e.detail.role] ?? e.detail.role;
  role.title = `tab ${e.detail.tab}; connection held by ${e.detail.leaderTab ?? "no tab yet"}`;
});
client.addEventListener("logout", () => { $("logout").disabled = true; });

const panels = {
  chat: new ChatPanel(settings, client),
  notifications: new NotificationsPanel(settings, client),
  dashboard: new DashboardPanel(settings, client),
};
client.connect();
for (const panel of Object.values(panels)) panel.start();

$("identity").addEventListener("submit", (event) => {
  event.preventDefault();
  for (const key of Object.keys(settings)) localStorage.setItem(`sb-${key}`, $(key).value);
  const url = new URL(location.href);
  for (const key of Object.keys(settings)) url.searchParams.set(key, $(key).value);
  location.assign(url); // another user or room: a new page, with a client of its own
});
$("logout").addEventListener("click", () => client.logout());

// Back online: do not wait for the next backoff step.
addEventListener("online", () => client.retryNow());
globalThis.switchboardDemo = { client, ...panels }; // for the curious, in the console
