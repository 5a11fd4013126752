/**
 * Lesson 11's checks, in CGI mode with --timeout 2s: the learner's events script read from a raw
 * socket for 4.5 s, its body parsed by the WHATWG event-stream rules as the bytes arrive
 * (src/learn/server-sent-events.ts), each event's arrival time kept. Then a reconnection with
 * Last-Event-ID: 41, and a client that hangs up while /webhist/status?json shows the script.
 */
import { basename } from 'node:path';
import type { CheckContext, Exchange, Suite } from '../../../src/learn/checks.ts';
import { EventStreamParser, type ServerSentEvent } from '../../../src/learn/server-sent-events.ts';

const timeoutMs = 2000;
const readMs = 4500;
const events = (t: CheckContext) => `/cgi-bin/${basename(t.files['cgi-bin/events.*']!)}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Stream {
  statusLine: string;
  status: number;
  headers: Record<string, string>;
  events: (ServerSentEvent & { atMs: number })[];
  retry?: number;
  /** When the response ended (its last chunk, or the connection closed), if before the checker hung up. */
  closedAtMs?: number;
}

/** The request an EventSource sends: Accept: text/event-stream (WHATWG §9.2.2), Cache-Control: no-cache (its fetch is no-store), Last-Event-ID on a reconnection (§9.2.4). */
function request(t: CheckContext, lastEventId?: string): Buffer {
  const resume = lastEventId === undefined ? '' : `Last-Event-ID: ${lastEventId}\r\n`;
  return Buffer.from(`GET ${events(t)} HTTP/1.1\r\nHost: 127.0.0.1:${t.port}\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n${resume}\r\n`);
}

/**
 * The body so far: after the head, de-chunked if the server chose chunked coding (RFC 9112 §7.1),
 * as much as has arrived (a chunk cut short gives what it has); `ended` once the last chunk came.
 */
function bodySoFar(raw: Buffer, start: number, chunked: boolean): { body: Buffer; ended: boolean } {
  if (!chunked) return { body: raw.subarray(start), ended: false };
  const parts: Buffer[] = [];
  let at = start;
  for (;;) {
    const lineEnd = raw.indexOf('\r\n', at);
    if (lineEnd < 0) return { body: Buffer.concat(parts), ended: false };
    const size = Number.parseInt(raw.subarray(at, lineEnd).toString('latin1'), 16);
    if (!(size > 0)) return { body: Buffer.concat(parts), ended: size === 0 };
    parts.push(raw.subarray(lineEnd + 2, Math.min(lineEnd + 2 + size, raw.length)));
    if (raw.length < lineEnd + 2 + size + 2) return { body: Buffer.concat(parts), ended: false };
    at = lineEnd + 2 + size + 2;
  }
}

/** The events in an exchange, each with the time its last byte arrived; `elapsedMs` is how long the read lasted. */
function parse(t: CheckContext, { exchange, elapsedMs }: Timed): Stream {
  let raw = Buffer.alloc(0);
  let headEnd = -1;
  let fed = 0;
  const parser = new EventStreamParser();
  const stream: Stream = { statusLine: '', status: 0, headers: {}, events: [] };
  for (const arrival of exchange.arrivals) {
    raw = Buffer.concat([raw, arrival.bytes]);
    if (headEnd < 0) {
      headEnd = raw.indexOf('\r\n\r\n');
      if (headEnd < 0) continue;
      const [statusLine = '', ...lines] = raw.subarray(0, headEnd).toString('latin1').split('\r\n');
      stream.statusLine = statusLine;
      stream.status = Number(/^HTTP\/\d\.\d (\d{3})/.exec(statusLine)?.[1] ?? 0);
      for (const line of lines) stream.headers[line.slice(0, line.indexOf(':')).trim().toLowerCase()] = line.slice(line.indexOf(':') + 1).trim();
    }
    const { body, ended } = bodySoFar(raw, headEnd + 4, /chunked/i.test(stream.headers['transfer-encoding'] ?? ''));
    for (const event of parser.push(body.subarray(fed))) stream.events.push({ ...event, atMs: arrival.atMs });
    fed = body.length;
    // The response is over (its last chunk came) though the connection may be kept for another.
    if (ended && stream.closedAtMs === undefined) stream.closedAtMs = arrival.atMs;
  }
  if (headEnd < 0) t.fail(exchange.received.length ? 'the response has no empty line (\\r\\n\\r\\n) after its header lines' : 'nothing came back');
  stream.retry = parser.retry;
  if (exchange.ended === 'closed') stream.closedAtMs ??= elapsedMs;
  return stream;
}

interface Timed {
  exchange: Exchange;
  elapsedMs: number;
}

async function timedRaw(t: CheckContext, bytes: Buffer, ms: number, label: string): Promise<Timed> {
  const began = performance.now();
  const { exchange } = await t.raw(bytes, { methods: [], timeoutMs: ms, label });
  return { exchange, elapsedMs: performance.now() - began };
}

async function read(t: CheckContext, ms: number, label: string, lastEventId?: string): Promise<Stream> {
  return parse(t, await timedRaw(t, request(t, lastEventId), ms, label));
}

/** One 4.5 s read per server (it takes seconds): the checks of tasks 1, 2 and 4 judge the same one, shown in each report. */
const mainRead = new Map<number, Promise<Timed>>();

async function stream(t: CheckContext): Promise<Stream> {
  const label = `read as the bytes arrive for ${readMs / 1000} s (the server runs with --timeout ${timeoutMs / 1000}s), then hang up`;
  let reading = mainRead.get(t.port);
  if (reading) {
    const { sent, received, ended } = (await reading).exchange;
    t.record({ label, sent, received, ended });
  } else {
    reading = timedRaw(t, request(t), readMs, label);
    mainRead.set(t.port, reading);
  }
  const got = parse(t, await reading);
  if (got.status !== 200) {
    t.fail(
      `${got.statusLine || 'no status line'}: expected 200${got.status === 502 ? " (the server could not read the script's output as a CGI response: a header block, an empty line, then the events)" : got.status === 504 ? ` (nothing came within --timeout ${timeoutMs / 1000}s: print the header and the first event at once, and flush)` : ''}`,
    );
  }
  return got;
}

const shown = (list: ServerSentEvent[]) => JSON.stringify(list.slice(0, 4).map((e) => ({ id: e.lastEventId, data: e.data })));

export default {
  files: [{ path: 'cgi-bin/events.*', executable: true }],
  scriptTimeoutMs: timeoutMs,
  checks: [
    {
      task: 1,
      title: 'GET answers 200 text/event-stream, with a retry: field, and the first event arrives at once',
      async run(t) {
        const got = await stream(t);
        t.expect(
          /^text\/event-stream\b/i.test(got.headers['content-type'] ?? ''),
          `Content-Type is ${JSON.stringify(got.headers['content-type'] ?? '(none)')}; an EventSource accepts only text/event-stream`,
        );
        t.expect(
          got.retry !== undefined,
          'no retry: field (or one that is not all digits): send e.g. "retry: 2000" and an empty line first, so a browser knows how long to wait before it reconnects',
        );
        t.expect(
          got.events.length > 0,
          `no event came in ${readMs / 1000} s: an event is "id: 1", "data: tick 1" and an empty line; flush after each (output into a pipe is buffered, and a buffered event arrives late or never)`,
        );
        t.expect(got.events[0]!.atMs < 1500, `the first event came after ${Math.round(got.events[0]!.atMs)} ms; send it at once and flush`);
      },
    },
    {
      task: 2,
      title: 'events "id: n" / "data: tick n" from 1, one about every second, each as it is written',
      async run(t) {
        const got = await stream(t);
        t.expect(
          got.events.length >= 2,
          `${got.events.length} event(s) in ${((got.closedAtMs ?? readMs) / 1000).toFixed(1)} s (${shown(got.events)}); expected one about every second, and each flushed as it is written`,
        );
        for (const [i, event] of got.events.entries()) {
          const n = i + 1;
          t.expect(
            event.lastEventId === String(n),
            `event ${n} has id ${JSON.stringify(event.lastEventId)}; expected "${n}" (write "id: ${n}" before its data; the events so far: ${shown(got.events)})`,
          );
          t.expect(
            event.data === `tick ${n}`,
            `event ${n} has data ${JSON.stringify(event.data)}; expected "tick ${n}" (a line "data: tick ${n}", then an empty line)`,
          );
        }
        const gaps = got.events.slice(1).map((e, i) => Math.round(e.atMs - got.events[i]!.atMs));
        // A lower bound only: a busy machine makes the gaps longer, never shorter.
        t.expect(
          gaps.every((gap) => gap >= 500),
          `the gaps between events were ${gaps.join(', ')} ms: wait about a second between events (sleep 1), and flush each as you write it`,
        );
      },
    },
    {
      task: 3,
      title: 'a reconnection with Last-Event-ID: 41 goes on from id 42',
      async run(t) {
        const got = await read(t, 2000, 'a browser reconnecting after event 41: Last-Event-ID: 41', '41');
        t.expect(got.status === 200, `${got.statusLine}: expected 200`);
        const first = got.events[0];
        t.expect(first, 'no event came within 2 s after reconnecting with Last-Event-ID: 41');
        t.expect(
          first!.lastEventId === '42' && first!.data === 'tick 42',
          `after Last-Event-ID: 41 the first event is id ${JSON.stringify(first!.lastEventId)}, data ${JSON.stringify(first!.data)}; expected id 42, "tick 42": the header arrives as HTTP_LAST_EVENT_ID, so start counting after it`,
        );
      },
    },
    {
      task: 4,
      title: `the stream lives past --timeout ${timeoutMs / 1000}s: events still arrive after 3 s, and nothing closes it`,
      async run(t) {
        const got = await stream(t);
        if (got.closedAtMs !== undefined) {
          t.fail(
            `the stream ended after ${(got.closedAtMs / 1000).toFixed(1)} s (the server runs with --timeout ${timeoutMs / 1000}s), after ${got.events.length} event(s): an event stream is one response that goes on — keep writing an event every second and never exit. (webhist lets a response that has begun live while it writes; --idle-timeout ends one that stops writing)`,
          );
        }
        const late = got.events.filter((e) => e.atMs > 3000);
        t.expect(
          late.length > 0,
          `no event arrived after 3 s (the last at ${Math.round(got.events.at(-1)?.atMs ?? 0)} ms): keep writing one every second, for as long as the client listens`,
        );
      },
    },
    {
      task: 4,
      title: 'a client that hangs up ends the script',
      async run(t) {
        const script = events(t);
        const reading = read(t, 2000, 'a client that listens for 2 s, then hangs up');
        await sleep(1200);
        const report = JSON.parse((await t.http({ path: '/webhist/status?json' })).text) as {
          live: { processes: { pid: number; kind: string; current: string[] }[] };
        };
        const pids = report.live.processes.filter((p) => p.kind === 'cgi' && p.current.includes(script)).map((p) => p.pid);
        await reading;
        t.expect(pids.length === 1, `/webhist/status?json listed ${pids.length} process(es) running ${script} while one client listened; expected 1`);
        const alive = (pid: number) => {
          try {
            process.kill(pid, 0);
            return true;
          } catch {
            return false;
          }
        };
        for (let waited = 0; waited < 5000 && alive(pids[0]!); waited += 100) await sleep(100);
        t.expect(
          !alive(pids[0]!),
          `process ${pids[0]} (${script}) still runs 5 s after its client hung up: the server stops a script's process group when its client leaves — does the script start something outside it (setsid, nohup &)?`,
        );
      },
    },
  ],
} satisfies Suite;
