// A real SSE client for tests/e2e: the npm `eventsource` package, as a Node.js app would use it.
// Connects to the URL given as argument, reconnects on its own (with Last-Event-ID), and prints
// one JSON line per happening on stdout. Stops when its stdin closes.
import { EventSource } from "eventsource";

const print = (line) => process.stdout.write(JSON.stringify(line) + "\n");
const source = new EventSource(process.argv[2]);

source.addEventListener("open", () => print({ kind: "open" }));
source.addEventListener("error", (event) =>
  print({ kind: "error", message: String(event.message ?? ""), code: event.code ?? null }),
);
for (const type of ["ready", "notification", "unread", "reset"]) {
  source.addEventListener(type, (event) =>
    print({ kind: "event", type, id: event.lastEventId, data: JSON.parse(event.data) }),
  );
}

process.stdin.on("end", () => {
  source.close();
  process.exit(0);
});
process.stdin.resume();
