// The benchmark's load generator: one Node.js process on the npm `ws` client, pinned to its own
// core by the caller (taskset), measuring its own CPU so the report can say it was not the limit.
//
//   node loadgen.mjs <config.json>     -> one JSON result on stdout
//
// Progress goes to stderr as lines `@event {json}` (connected, holding, step-start, step-end);
// an event with `"await": true` waits for a line on stdin before going on (the Python driver,
// switchboard_bench/loadgen.py, answers after measuring the server). Other stderr lines are
// diagnostics.
//
// Protocols:
//   switchboard  the gateway's /ws (docs/protocol.md): a JWT (HS256, minted here from
//                config.jwtSecret, one user per connection) in the Authorization header; `join`;
//                `chat` with a unique clientMsgId and `attempt` 1, as the project's clients send a
//                first attempt; `ack` frames counted; `chat` frames received; a `chat` refused
//                as `unavailable` is sent again with the same clientMsgId and the next attempt
//                (as the protocol asks), up to 5 times, 250 ms x attempt later (`retried`).
//   reference    the reference servers' minimal protocol: {"type":"join","room"} answered by
//                {"type":"joined","room"}; {"type":"send","room","body"} broadcast to the room,
//                sender included, as {"type":"message","room","body"}.
//
// Frames from the server are read off the socket by a lean parser (readFramesOffTheSocket) unless
// config.rawReceive is false; ws handles the handshake and everything sent.
//
// Every message body starts `BENCH|<step>|<send time, ms>|<sender index>|`: the send time is this
// process's performance.now(), so receivers compute delivery latency on the same clock.
//
// Modes (config.mode):
//   idle     open config.connections, emit `holding` (awaited), close.
//   fanout   config.connections receivers in one room; the first config.senders of them send
//            config.steps[i] messages per second for config.stepMs each, then wait up to
//            config.drainMs for every copy; stops after a step whose p99 exceeds config.stopP99Ms
//            or that lost anything (config.stopOnLoss). config.warmupMs (at config.warmupRate)
//            runs first as a step labelled warm-up (`warmup: true`), never judged.
//   Every mode but idle waits after joining until the server has been quiet (nothing but our
//   messages) for config.settleQuietMs (1000), at most config.settleMaxMs (20000).
//   rooms    config.connections in rooms of config.roomSize, each sending every config.intervalMs:
//            step 0 warms up for config.warmupMs, step 1 measures for config.durationMs. `own` is
//            the latency of the sender's own copy coming back.
//   classic  config.connections in rooms of config.roomSize, each sending config.messages
//            messages config.gapMs apart (one step); nothing may be lost.
//   capacity fanout's ladder (config.steps, stepMs, drainMs, warm-up, stopP99Ms, stopOnLoss),
//            but config.connections in rooms of config.roomSize and every connection a sender,
//            round robin; with config.stopOnUnacked (default true) a step that left a send
//            unacked (or unsent) by the end of its drain also stops the ladder: the durable
//            chat path's capacity in small rooms.
import { createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import WebSocket from 'ws';

const HIST_BASE_MS = 0.01;
const HIST_RATIO = 1.02;
const HIST_BUCKETS = 1000;
const LOG_RATIO = Math.log(HIST_RATIO);
const MARK = Buffer.from('BENCH|');
const MAX_RETRIES = 5;
const RETRY_DELAY_MS = 250;

class Histogram {
  constructor() {
    this.counts = new Float64Array(HIST_BUCKETS);
    this.count = 0;
    this.sum = 0;
    this.max = 0;
  }

  add(ms) {
    const v = ms > HIST_BASE_MS ? ms : HIST_BASE_MS;
    let i = Math.floor(Math.log(v / HIST_BASE_MS) / LOG_RATIO);
    if (i >= HIST_BUCKETS) i = HIST_BUCKETS - 1;
    this.counts[i] += 1;
    this.count += 1;
    this.sum += ms;
    if (ms > this.max) this.max = ms;
  }

  /** The upper bound of the bucket holding the q-quantile (never above the exact maximum). */
  quantile(q) {
    if (this.count === 0) return null;
    const rank = Math.ceil(q * this.count);
    let seen = 0;
    for (let i = 0; i < HIST_BUCKETS; i++) {
      seen += this.counts[i];
      if (seen >= rank && seen > 0) {
        return Math.min(HIST_BASE_MS * HIST_RATIO ** (i + 1), this.max);
      }
    }
    return this.max;
  }

  summary() {
    const r = (x) => (x === null ? null : Math.round(x * 1000) / 1000);
    return {
      count: this.count,
      mean: this.count ? r(this.sum / this.count) : null,
      p50: r(this.quantile(0.5)),
      p90: r(this.quantile(0.9)),
      p99: r(this.quantile(0.99)),
      p999: r(this.quantile(0.999)),
      max: this.count ? r(this.max) : null,
    };
  }

  sparse() {
    const counts = [];
    for (let i = 0; i < HIST_BUCKETS; i++) if (this.counts[i]) counts.push([i, this.counts[i]]);
    return { baseMs: HIST_BASE_MS, ratio: HIST_RATIO, counts };
  }
}

const b64url = (buf) => Buffer.from(buf).toString('base64url');

function mintToken(secret, sub, ttlSeconds) {
  const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const now = Math.floor(Date.now() / 1000);
  const claims = b64url(JSON.stringify({ sub, iat: now, exp: now + ttlSeconds }));
  const signature = createHmac('sha256', secret).update(`${header}.${claims}`).digest('base64url');
  return `${header}.${claims}.${signature}`;
}

function emit(event, fields = {}) {
  process.stderr.write(`@event ${JSON.stringify({ event, ...fields })}\n`);
}

const stdinLines = [];
const stdinWaiters = [];
function nextStdinLine() {
  if (stdinLines.length) return Promise.resolve(stdinLines.shift());
  return new Promise((resolve) => stdinWaiters.push(resolve));
}

async function awaitEvent(event, fields = {}) {
  emit(event, { ...fields, await: true });
  await nextStdinLine();
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

class Step {
  constructor(index, label, connections, rooms) {
    this.index = index;
    this.label = label;
    this.sent = 0;
    this.unsent = 0;
    this.sentPerRoom = new Float64Array(rooms);
    this.received = new Uint32Array(connections);
    this.all = new Histogram();
    this.own = new Histogram();
    this.ack = new Histogram();
    this.acked = 0;
    this.retried = 0;
    this.startedAt = 0;
    this.endedAt = 0;
    this.cpuStart = null;
    this.cpuMicros = 0;
    this.deliveredAtStart = 0;
    this.deliveredInWindow = 0;
  }
}

/**
 * Read the server's frames straight off the socket, instead of through ws's Receiver: a lean
 * parser per connection that hands each text frame's bytes to onText without copying, so that
 * the load generator spends as little as it can per received frame (on a busy machine the gain
 * over ws's Receiver was within the noise; rawReceive: false compares). Swapped in on 'open',
 * which ws emits synchronously before the socket delivers any byte. Sending stays with ws
 * (masking, ping replies via pong()).
 */
function readFramesOffTheSocket(ws, onText) {
  const socket = ws._socket;
  socket.removeAllListeners('data');
  let pending = null;
  let fragments = null;
  socket.on('data', (chunk) => {
    const buf = pending ? Buffer.concat([pending, chunk]) : chunk;
    const size = buf.length;
    let off = 0;
    while (size - off >= 2) {
      const b0 = buf[off];
      let len = buf[off + 1] & 0x7f;
      let header = 2;
      if (len === 126) {
        if (size - off < 4) break;
        len = buf.readUInt16BE(off + 2);
        header = 4;
      } else if (len === 127) {
        if (size - off < 10) break;
        len = Number(buf.readBigUInt64BE(off + 2));
        header = 10;
      }
      if (size - off < header + len) break;
      const payload = buf.subarray(off + header, off + header + len);
      off += header + len;
      const opcode = b0 & 0x0f;
      const fin = (b0 & 0x80) !== 0;
      if (opcode === 1 || opcode === 2 || opcode === 0) {
        if (!fin || fragments) {
          fragments = fragments ? [...fragments, Buffer.from(payload)] : [Buffer.from(payload)];
          if (!fin) continue;
          const whole = Buffer.concat(fragments);
          fragments = null;
          onText(whole);
        } else {
          onText(payload);
        }
      } else if (opcode === 9) {
        ws.pong(Buffer.from(payload));
      } else if (opcode === 8) {
        ws.terminate();
        return;
      }
    }
    pending = off < size ? Buffer.from(buf.subarray(off)) : null;
  });
}

class Run {
  constructor(config) {
    this.config = config;
    this.protocol = config.protocol;
    this.n = config.connections;
    this.roomSize = config.mode === 'fanout' ? this.n : config.roomSize || this.n;
    this.hasAcks = config.protocol === 'switchboard';
    this.rooms = Math.ceil(this.n / this.roomSize);
    this.runId = randomBytes(4).toString('hex');
    this.sockets = new Array(this.n).fill(null);
    this.steps = [];
    this.current = null;
    this.seq = 0;
    this.delivered = 0;
    this.errors = {};
    this.closes = {};
    this.connectFailures = 0;
    this.connectErrors = [];
    this.pendingAcks = new Map();
    this.pad = 'x'.repeat(Math.max(0, config.payloadBytes || 0));
    this.draining = false;
    this.lastOtherFrameAt = 0;
  }

  /** Wait until the server has sent nothing but our messages for quietMs (presence snapshots
   * after a thousand joins), at most maxMs. */
  async settle(quietMs, maxMs) {
    const started = performance.now();
    while (performance.now() - started < maxMs) {
      if (performance.now() - this.lastOtherFrameAt >= quietMs) break;
      await sleep(50);
    }
    return (performance.now() - started) / 1000;
  }

  roomOf(i) {
    return `bench-${this.runId}-${Math.floor(i / this.roomSize)}`;
  }

  countError(code) {
    this.errors[code] = (this.errors[code] || 0) + 1;
  }

  onFrame(i, data) {
    const at = data.indexOf(MARK);
    if (at >= 0) {
      this.onMessage(i, data, at + MARK.length);
      return;
    }
    this.lastOtherFrameAt = performance.now();
    const waiter = this.sockets[i]?.waiter;
    // Big frames are presence snapshots of a big room: parsed only while joining.
    if (!waiter && data.length > 4096) return;
    let frame;
    try {
      frame = JSON.parse(data.toString());
    } catch {
      this.countError('unparsable');
      return;
    }
    if (waiter && waiter(frame)) return;
    if (frame.type === 'ack') {
      const id = frame.payload?.clientMsgId;
      const pending = this.pendingAcks.get(id);
      if (pending) {
        this.pendingAcks.delete(id);
        pending.step.acked += 1;
        pending.step.ack.add(performance.now() - pending.t);
      }
    } else if (frame.type === 'error') {
      const code = frame.payload?.code || 'error';
      this.countError(code);
      // `unavailable` means retry (docs/protocol.md): the same clientMsgId, stored once.
      const pending = code === 'unavailable' ? this.pendingAcks.get(frame.payload?.ref) : null;
      if (pending && pending.tries < MAX_RETRIES) {
        pending.tries += 1;
        pending.step.retried += 1;
        const resend = JSON.stringify({
          type: 'chat',
          payload: { ...pending.payload, attempt: pending.tries + 1 },
        });
        setTimeout(() => {
          const entry = this.sockets[pending.i];
          if (entry && entry.ws.readyState === WebSocket.OPEN) entry.ws.send(resend);
        }, RETRY_DELAY_MS * pending.tries);
      }
    }
  }

  onMessage(i, data, from) {
    const now = performance.now();
    // BENCH|<step>|<ms>.<fraction>|<sender>| parsed in place: no string per frame.
    const end = data.length;
    let pos = from;
    let stepIndex = 0;
    for (let c = data[pos]; c !== 124 && pos < end; c = data[++pos]) stepIndex = stepIndex * 10 + c - 48;
    let sentAt = 0;
    let scale = 0;
    for (let c = data[++pos]; c !== 124 && pos < end; c = data[++pos]) {
      if (c === 46) scale = 1;
      else {
        sentAt = sentAt * 10 + c - 48;
        if (scale) scale *= 10;
      }
    }
    if (scale) sentAt /= scale;
    let sender = 0;
    for (let c = data[++pos]; c !== 124 && pos < end; c = data[++pos]) sender = sender * 10 + c - 48;
    const step = this.steps[stepIndex];
    if (!step) return;
    const latency = now - sentAt;
    step.received[i] += 1;
    step.all.add(latency);
    if (sender === i) step.own.add(latency);
    this.delivered += 1;
  }

  connectOne(i) {
    const config = this.config;
    const options = { perMessageDeflate: false, handshakeTimeout: 30000, skipUTF8Validation: true };
    if (this.protocol === 'switchboard') {
      const user = `${config.userPrefix || 'bench'}-${this.runId}-${i}`;
      options.headers = { Authorization: `Bearer ${mintToken(config.jwtSecret, user, 3600)}` };
    }
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(config.url, options);
      const entry = { ws, waiter: null };
      let settled = false;
      const done = (error) => {
        if (settled) return;
        settled = true;
        entry.waiter = null;
        if (error) reject(error);
        else resolve(entry);
      };
      this.sockets[i] = entry;
      if (config.rawReceive === false) ws.on('message', (data) => this.onFrame(i, data));
      else ws.on('open', () => readFramesOffTheSocket(ws, (data) => this.onFrame(i, data)));
      ws.on('error', (error) => done(error));
      ws.on('unexpected-response', (_req, res) => done(new Error(`HTTP ${res.statusCode}`)));
      ws.on('close', (code) => {
        if (!this.draining) this.closes[code] = (this.closes[code] || 0) + 1;
        done(new Error(`closed ${code}`));
      });
      if (this.protocol === 'switchboard') {
        // The session exists once the gateway has said hello.
        entry.waiter = (frame) => {
          if (frame.type === 'notification') done(null);
          return true;
        };
      } else {
        ws.on('open', () => done(null));
      }
    });
  }

  join(i) {
    const entry = this.sockets[i];
    const room = this.roomOf(i);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('join timed out')), 30000);
      entry.waiter = (frame) => {
        const joined =
          this.protocol === 'switchboard'
            ? frame.type === 'presence' && frame.room === room
            : frame.type === 'joined' && frame.room === room;
        if (joined) {
          clearTimeout(timer);
          entry.waiter = null;
          resolve();
          return true;
        }
        if (frame.type === 'error') {
          clearTimeout(timer);
          entry.waiter = null;
          reject(new Error(`join refused: ${frame.payload?.code}`));
          return true;
        }
        return false;
      };
      const frame =
        this.protocol === 'switchboard'
          ? { type: 'join', payload: { room } }
          : { type: 'join', room };
      entry.ws.send(JSON.stringify(frame));
    });
  }

  async open(join) {
    const concurrency = this.config.connectConcurrency || 100;
    let next = 0;
    let open = 0;
    const started = performance.now();
    const worker = async () => {
      while (next < this.n) {
        const i = next++;
        try {
          await this.connectOne(i);
          if (join) await this.join(i);
          open += 1;
        } catch (error) {
          this.connectFailures += 1;
          if (this.connectErrors.length < 5) this.connectErrors.push(String(error.message || error));
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, this.n) }, worker));
    const seconds = (performance.now() - started) / 1000;
    emit('connected', { open, failed: this.connectFailures, seconds });
    return { requested: this.n, open, failed: this.connectFailures, seconds };
  }

  send(i) {
    const step = this.current;
    const entry = this.sockets[i];
    if (!step || !entry || entry.ws.readyState !== WebSocket.OPEN) {
      if (step) step.unsent += 1;
      return;
    }
    const now = performance.now();
    const body = `BENCH|${step.index}|${now.toFixed(3)}|${i}|${this.pad}`;
    const room = this.roomOf(i);
    let text;
    if (this.protocol === 'switchboard') {
      const clientMsgId = `${this.runId}-${this.seq++}`;
      // attempt 1: the first send of this clientMsgId (chat skips its look-up for an earlier copy)
      const payload = { room, content: body, clientMsgId, attempt: 1 };
      text = JSON.stringify({ type: 'chat', payload });
      this.pendingAcks.set(clientMsgId, { step, t: now, i, payload, tries: 0 });
    } else {
      text = JSON.stringify({ type: 'send', room, body });
    }
    entry.ws.send(text);
    step.sent += 1;
    step.sentPerRoom[Math.floor(i / this.roomSize)] += 1;
  }

  beginStep(label, fields = {}) {
    const step = new Step(this.steps.length, label, this.n, this.rooms);
    this.steps.push(step);
    this.current = step;
    step.startedAt = performance.now();
    step.cpuStart = process.cpuUsage();
    step.deliveredAtStart = this.delivered;
    emit('step-start', { step: step.index, label, ...fields });
    return step;
  }

  endStep(step) {
    this.current = null;
    step.endedAt = performance.now();
    const cpu = process.cpuUsage(step.cpuStart);
    step.cpuMicros = cpu.user + cpu.system;
    step.deliveredInWindow = this.delivered - step.deliveredAtStart;
    emit('step-end', { step: step.index });
  }

  expectedFor(step, i) {
    return step.sentPerRoom[Math.floor(i / this.roomSize)];
  }

  missing(step) {
    let lost = 0;
    let lossy = 0;
    for (let i = 0; i < this.n; i++) {
      if (!this.sockets[i]) continue;
      const gap = this.expectedFor(step, i) - step.received[i];
      if (gap > 0) {
        lost += gap;
        lossy += 1;
      }
    }
    return { lost, lossy };
  }

  async drain(step) {
    const deadline = performance.now() + (this.config.drainMs ?? 5000);
    while (performance.now() < deadline) {
      const acksDone = this.protocol !== 'switchboard' || step.acked >= step.sent;
      if (acksDone && this.missing(step).lost === 0) return;
      await sleep(20);
    }
  }

  stepResult(step, extra = {}) {
    const seconds = (step.endedAt - step.startedAt) / 1000;
    const { lost, lossy } = this.missing(step);
    let expected = 0;
    let delivered = 0;
    for (let i = 0; i < this.n; i++) {
      if (!this.sockets[i]) continue;
      expected += this.expectedFor(step, i);
      delivered += step.received[i];
    }
    return {
      step: step.index,
      label: step.label,
      ...extra,
      seconds,
      sent: step.sent,
      unsent: step.unsent,
      sentPerSecond: step.sent / seconds,
      acked: this.protocol === 'switchboard' ? step.acked : null,
      retried: this.protocol === 'switchboard' ? step.retried : null,
      expected,
      delivered,
      deliveredInWindow: step.deliveredInWindow,
      deliveriesPerSecond: step.deliveredInWindow / seconds,
      lost,
      lossyReceivers: lossy,
      latency: step.all.summary(),
      own: step.own.summary(),
      ack: this.protocol === 'switchboard' ? step.ack.summary() : null,
      histogram: step.all.sparse(),
      ownHistogram: step.own.sparse(),
      loadgenCpuSeconds: step.cpuMicros / 1e6,
      loadgenCpuFraction: step.cpuMicros / 1e6 / seconds,
    };
  }
}

async function runFanout(run) {
  const c = run.config;
  // capacity: every connection sends, round robin (so the sends rotate through the rooms).
  const senders = c.mode === 'capacity' ? run.n : Math.max(1, Math.min(c.senders || 10, run.n));
  const results = [];
  let stoppedBecause = 'all steps passed';
  let rr = 0;
  const ladder = c.steps.map((rate) => ({ rate, label: `${rate} msg/s`, warmup: false }));
  if (c.warmupMs) {
    ladder.unshift({ rate: c.warmupRate || c.steps[0], label: 'warm-up', warmup: true });
  }
  for (const { rate, label, warmup } of ladder) {
    const step = run.beginStep(label, { rate, warmup });
    const stepMs = warmup ? c.warmupMs : c.stepMs;
    const started = performance.now();
    await new Promise((resolve) => {
      const tick = setInterval(() => {
        const elapsed = performance.now() - started;
        const due = Math.floor((rate * Math.min(elapsed, stepMs)) / 1000);
        while (step.sent + step.unsent < due) {
          run.send(rr);
          rr = (rr + 1) % senders;
        }
        if (elapsed >= stepMs) {
          clearInterval(tick);
          resolve();
        }
      }, 2);
    });
    run.endStep(step);
    await run.drain(step);
    const result = run.stepResult(step, {
      offeredRate: rate,
      offeredDeliveries: rate * run.n,
      warmup,
    });
    results.push(result);
    if (warmup) continue;
    const p99 = result.latency.p99;
    if (c.stopOnLoss !== false && result.lost > 0) {
      stoppedBecause = `lost ${result.lost} deliveries at ${rate} msg/s`;
      break;
    }
    if (c.stopP99Ms && p99 !== null && p99 > c.stopP99Ms) {
      stoppedBecause = `p99 ${p99} ms > ${c.stopP99Ms} ms at ${rate} msg/s`;
      break;
    }
    if (c.mode === 'capacity' && c.stopOnUnacked !== false) {
      if (result.unsent > 0) {
        stoppedBecause = `${result.unsent} sends not made (connection closed) at ${rate} msg/s`;
        break;
      }
      if (run.hasAcks && result.acked < result.sent) {
        stoppedBecause = `${result.sent - result.acked} sends unacked after the drain at ${rate} msg/s`;
        break;
      }
    }
  }
  return { steps: results, stoppedBecause };
}

async function runPeriodic(run, phases) {
  // Each connection sends on its own timer, spread evenly over the period.
  const results = [];
  for (const phase of phases) {
    const step = run.beginStep(phase.label);
    const timers = [];
    const sentBy = new Uint32Array(run.n);
    await new Promise((resolve) => {
      let finished = 0;
      const live = run.sockets.filter(Boolean).length;
      if (live === 0) resolve();
      for (let i = 0; i < run.n; i++) {
        if (!run.sockets[i]) continue;
        const offset = (i / run.n) * phase.everyMs;
        timers.push(
          setTimeout(() => {
            const tick = () => {
              if (phase.count !== undefined && sentBy[i] >= phase.count) return true;
              run.send(i);
              sentBy[i] += 1;
              return phase.count !== undefined && sentBy[i] >= phase.count;
            };
            if (tick()) {
              finished += 1;
              if (finished === live) resolve();
              return;
            }
            const iv = setInterval(() => {
              if (tick()) {
                clearInterval(iv);
                finished += 1;
                if (finished === live) resolve();
              }
            }, phase.everyMs);
            timers.push(iv);
          }, offset),
        );
      }
      if (phase.durationMs !== undefined) setTimeout(resolve, phase.durationMs);
    });
    for (const t of timers) clearTimeout(t);
    run.endStep(step);
    await run.drain(step);
    results.push(run.stepResult(step));
  }
  return { steps: results };
}

async function main() {
  const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    const waiter = stdinWaiters.shift();
    if (waiter) waiter(line);
    else stdinLines.push(line);
  });
  const run = new Run(config);
  const wallStart = performance.now();
  const cpuStart = process.cpuUsage();
  const result = { mode: config.mode, protocol: config.protocol, url: config.url };
  result.connections = await run.open(config.mode !== 'idle');
  if (result.connections.open === 0) {
    throw new Error(`no connection opened: ${run.connectErrors.join('; ')}`);
  }
  if (config.mode !== 'idle') {
    result.settleSeconds = await run.settle(config.settleQuietMs ?? 1000, config.settleMaxMs ?? 20000);
  }
  if (config.mode === 'idle') {
    await awaitEvent('holding', { open: result.connections.open });
  } else if (config.mode === 'fanout' || config.mode === 'capacity') {
    Object.assign(result, await runFanout(run));
  } else if (config.mode === 'rooms') {
    const phases = [];
    if (config.warmupMs) {
      phases.push({ label: 'warm-up', everyMs: config.intervalMs, durationMs: config.warmupMs });
    }
    phases.push({ label: 'measure', everyMs: config.intervalMs, durationMs: config.durationMs });
    Object.assign(result, await runPeriodic(run, phases));
  } else if (config.mode === 'classic') {
    const phase = { label: 'classic', everyMs: config.gapMs, count: config.messages };
    Object.assign(result, await runPeriodic(run, [phase]));
  } else {
    throw new Error(`unknown mode ${config.mode}`);
  }
  const cpu = process.cpuUsage(cpuStart);
  const wall = (performance.now() - wallStart) / 1000;
  const stepFractions = (result.steps || []).map((s) => s.loadgenCpuFraction);
  result.loadgen = {
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    wallSeconds: wall,
    cpuFraction: (cpu.user + cpu.system) / 1e6 / wall,
    maxStepCpuFraction: stepFractions.length ? Math.max(...stepFractions) : null,
    rssBytes: process.memoryUsage().rss,
  };
  result.errors = run.errors;
  result.closes = run.closes;
  result.connectErrors = run.connectErrors;
  run.draining = true;
  for (const entry of run.sockets) entry?.ws.terminate();
  process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));
}

main().catch((error) => {
  process.stderr.write(`loadgen failed: ${error.stack || error}\n`);
  process.exit(1);
});
