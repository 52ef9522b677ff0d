// SSE load generator for the notification benchmarks: Node's built-in http, no dependencies.
//
//   node sse-loadgen.mjs '{"url": "http://127.0.0.1:8080/api/notifications/stream",
//                          "tokensFile": "tokens.txt", "concurrency": 200}'
//
// Opens one stream per token (a line of tokensFile), at most `concurrency` handshakes at a time,
// and reports on stdout, one JSON object per line:
//   {"event": "connected", "ok", "failed", "seconds", "errors": [first few]}
//     once every stream got its `ready` (or `reset`) event or failed;
//   {"event": "received", "title", "times": [epoch ms per stream, null when missing], "missing"}
//     for each stdin line {"expect": "<title>", "timeoutMs": n}: when every stream open at that
//     moment has received a notification with that title, or at the timeout. Arrival times are recorded for every
//     notification as it comes, whether or not it is expected yet, so nothing races the command.
// Stdin closing ends the process (and its streams).

import http from "node:http";
import readline from "node:readline";
import fs from "node:fs";

const config = JSON.parse(process.argv[2]);
const tokens = fs.readFileSync(config.tokensFile, "utf8").split("\n").filter(Boolean);
const url = new URL(config.url);
const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
const streams = tokens.map(() => ({ open: false, titles: new Map() }));
const waiters = [];
const receivedCount = new Map(); // title -> streams that have it

const now = () => performance.timeOrigin + performance.now();
const emit = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

const TITLE = '"title":"';

// A notification event's title, read in place: the bench's titles are plain ASCII without
// quotes or escapes, and this client shares its core with the system, so it parses no JSON.
function titleOf(block) {
  const from = block.indexOf(TITLE);
  if (from < 0) return null;
  const start = from + TITLE.length;
  return block.slice(start, block.indexOf('"', start));
}

function eventOf(block) {
  const at = block.indexOf("event:");
  if (at < 0) return "message";
  const end = block.indexOf("\n", at);
  return block.slice(at + 6, end < 0 ? block.length : end).trim();
}

function handleEvent(stream, block, opened) {
  const event = eventOf(block);
  if (event === "ready" || event === "reset") {
    stream.open = true;
    opened();
  } else if (event === "notification") {
    const at = now();
    const title = titleOf(block);
    if (title === null) return;
    if (!stream.titles.has(title)) {
      stream.titles.set(title, at);
      receivedCount.set(title, (receivedCount.get(title) ?? 0) + 1);
      for (const waiter of waiters) if (waiter.title === title) waiter.check();
    }
  }
}

function openStream(index) {
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        agent,
        headers: { Authorization: `Bearer ${tokens[index]}`, Accept: "text/event-stream" },
      },
      (response) => {
        if (response.statusCode !== 200) {
          response.resume();
          reject(new Error(`HTTP ${response.statusCode}`));
          return;
        }
        response.setEncoding("utf8");
        let buffer = "";
        const stream = streams[index];
        response.on("data", (chunk) => {
          buffer += chunk;
          let end;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            handleEvent(stream, block, resolve);
          }
        });
        response.on("end", () => {
          stream.open = false;
          reject(new Error("stream ended"));
        });
        response.on("error", reject);
      },
    );
    request.on("error", reject);
    request.end();
  });
}

async function connectAll() {
  const started = now();
  let next = 0;
  let ok = 0;
  const errors = [];
  async function worker() {
    while (next < tokens.length) {
      const index = next++;
      try {
        await openStream(index);
        ok += 1;
      } catch (error) {
        errors.push(String(error.message || error));
      }
    }
  }
  await Promise.all(Array.from({ length: config.concurrency ?? 200 }, worker));
  emit({
    event: "connected",
    ok,
    failed: errors.length,
    seconds: (now() - started) / 1000,
    errors: errors.slice(0, 5),
  });
}

function expect(title, timeoutMs) {
  const waiter = { title, done: false };
  const report = () => {
    if (waiter.done) return;
    waiter.done = true;
    clearTimeout(waiter.timer);
    waiters.splice(waiters.indexOf(waiter), 1);
    const times = streams.map((stream) => stream.titles.get(title) ?? null);
    emit({ event: "received", title, times, missing: times.filter((t) => t === null).length });
  };
  const expected = streams.filter((stream) => stream.open).length;
  waiter.check = () => {
    if ((receivedCount.get(title) ?? 0) >= expected) report();
  };
  waiter.timer = setTimeout(report, timeoutMs);
  waiters.push(waiter);
  waiter.check();
}

await connectAll();
const input = readline.createInterface({ input: process.stdin });
input.on("line", (line) => {
  const command = JSON.parse(line);
  expect(command.expect, command.timeoutMs ?? 30000);
});
input.on("close", () => process.exit(0));
