// The live dashboard: charts of the last minutes, alerts, and a log tail with filters. The
// team's room (dashboard:<team>) of the page's SharedClient.
import { LineChart } from "./charts.js";
import { showStatus, time } from "./status.js";

const $ = (id) => document.getElementById(id);
const LEVELS = ["debug", "info", "warning", "error", "critical"];
const MAX_LOGS = 300;
const WINDOW_MS = 5 * 60_000;

function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
  return `${n.toFixed(1)} ${units[i]}`;
}

function duration(seconds) {
  const d = Math.floor(seconds / 86400), h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return d ? `${d}d ${h}h` : h ? `${h}h ${m}m` : `${m}m ${Math.floor(seconds % 60)}s`;
}

export class DashboardPanel {
  constructor(settings, client) {
    this.settings = settings;
    this.client = client;
    this.logs = [];
    this.sources = new Set();
    this.charts = {
      cpuUsage: new LineChart($("chart-cpu"), { label: "CPU", unit: " %", max: 100, windowMs: WINDOW_MS }),
      memoryUsage: new LineChart($("chart-memory"), { label: "Memory", unit: " %", max: 100, windowMs: WINDOW_MS, color: "#7c3aed" }),
      diskUsage: new LineChart($("chart-disk"), { label: "Disk", unit: " %", max: 100, windowMs: WINDOW_MS, color: "#0891b2" }),
      activeConnections: new LineChart($("chart-connections"), { label: "Connections", windowMs: WINDOW_MS, color: "#16a34a", format: (v) => String(Math.round(v)) }),
      requestsPerSecond: new LineChart($("chart-rps"), { label: "Requests / s", windowMs: WINDOW_MS, color: "#ea580c" }),
    };
    for (const chart of Object.values(this.charts)) chart.draw();
    $("log-level").addEventListener("change", () => this.renderLogs());
    $("log-source").addEventListener("change", () => this.renderLogs());
    addEventListener("resize", () => Object.values(this.charts).forEach((c) => c.schedule()));
  }

  start() {
    const room = `dashboard:${this.settings.team}`;
    const client = this.client;
    const mine = (handler) => (e) => { if (e.detail?.room === room) handler(e.detail); };
    showStatus($("dash-status"), { status: "connecting" });
    client.addEventListener("status", (e) => showStatus($("dash-status"), e.detail));
    client.addEventListener("metrics-update", mine((m) => this.metrics(m)));
    client.addEventListener("alert", mine((a) => this.alert(a)));
    client.addEventListener("log-entry", mine((entry) => this.log(entry)));
    client.join(room);
  }

  metrics(m) {
    for (const [field, chart] of Object.entries(this.charts)) chart.push(m.timestamp, m[field]);
    const figures = [
      `memory ${bytes(m.memoryTotal)}`, `uptime ${duration(m.uptime)}`,
      `${m.activeConnections} connections`, `${m.requestsPerSecond} req/s`,
    ];
    $("figures").replaceChildren(...figures.map((text) => {
      const span = document.createElement("span");
      span.textContent = text;
      return span;
    }));
  }

  alert(a) {
    const list = $("alerts");
    list.querySelector(".empty")?.remove();
    let li = list.querySelector(`[data-id="${CSS.escape(a.id)}"]`);
    if (!li) {
      li = document.createElement("li");
      li.dataset.id = a.id;
      list.prepend(li);
    }
    li.className = `alert ${a.severity}${a.resolved ? " resolved" : ""}`;
    li.textContent = `${time(a.timestamp)} ${a.severity.toUpperCase()} ${a.title}: ${a.message}`;
  }

  log(entry) {
    this.logs.push(entry);
    if (this.logs.length > MAX_LOGS) this.logs.shift();
    if (!this.sources.has(entry.source)) {
      this.sources.add(entry.source);
      const option = document.createElement("option");
      option.value = option.textContent = entry.source;
      $("log-source").append(option);
    }
    if (this.matches(entry)) this.appendLog(entry);
  }

  matches(entry) {
    const min = LEVELS.indexOf($("log-level").value);
    const source = $("log-source").value;
    return LEVELS.indexOf(entry.level) >= min && (!source || entry.source === source);
  }

  line(entry) {
    const li = document.createElement("li");
    li.className = `log level-${entry.level}`;
    li.dataset.level = entry.level;
    li.dataset.source = entry.source;
    li.textContent = `${time(entry.timestamp)} ${entry.level.padEnd(8)} ${entry.source}: ${entry.message}`;
    return li;
  }

  appendLog(entry) {
    const list = $("logs");
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 30;
    list.append(this.line(entry));
    while (list.children.length > MAX_LOGS) list.firstElementChild.remove();
    if (atBottom) list.scrollTop = list.scrollHeight;
  }

  renderLogs() {
    $("logs").replaceChildren(...this.logs.filter((e) => this.matches(e)).map((e) => this.line(e)));
  }
}
