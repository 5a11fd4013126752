/**
 * Lesson 4's checks: the learner's nph-countdown.sh read from a raw socket as its bytes arrive,
 * its multipart body split into parts, and each part's arrival time kept: a countdown whose
 * parts all arrive at the end has been buffered somewhere.
 */
import type { Arrival, CheckContext, Exchange, Suite } from '../../../src/learn/checks.ts';

const path = '/cgi-bin/nph-countdown.sh';

interface Pushed {
  statusLine: string;
  head: Record<string, string>;
  boundary?: string;
  parts: { type: string; content: string; atMs: number }[];
  closed: boolean;
}

/** When the byte at `offset` arrived. */
function arrivalOf(arrivals: Arrival[], offset: number): number {
  let end = 0;
  for (const arrival of arrivals) {
    end += arrival.bytes.length;
    if (offset < end) return arrival.atMs;
  }
  return arrivals.at(-1)?.atMs ?? 0;
}

/** One countdown per server (it takes seconds): every check reads the same one, shown in each report. */
const read = new Map<number, Promise<Exchange>>();

async function countdown(t: CheckContext): Promise<Pushed> {
  const label = 'read as the bytes arrive, until the server closes';
  let reading = read.get(t.port);
  if (reading) {
    const { sent, received, ended } = await reading;
    t.record({ label, sent, received, ended });
  } else {
    reading = t
      .raw(Buffer.from(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${t.port}\r\n\r\n`), { methods: [], timeoutMs: 15_000, label })
      .then((r) => r.exchange);
    read.set(t.port, reading);
  }
  const exchange = await reading;
  const text = exchange.received.toString('latin1');
  const headEnd = text.indexOf('\r\n\r\n');
  if (headEnd < 0) t.fail('the response has no empty line (\\r\\n\\r\\n) after its header lines');
  const [statusLine = '', ...lines] = text.slice(0, headEnd).split('\r\n');
  const head: Record<string, string> = {};
  for (const line of lines) head[line.slice(0, line.indexOf(':')).trim().toLowerCase()] = line.slice(line.indexOf(':') + 1).trim();
  const boundary = /boundary="?([^";]+)"?/i.exec(head['content-type'] ?? '')?.[1];
  const result: Pushed = { statusLine, head, boundary, parts: [], closed: false };
  if (!boundary) return result;
  // RFC 2046 §5.1.1: parts begin at "--boundary"; "--boundary--" closes the body.
  const delimiter = `--${boundary}`;
  let at = text.indexOf(delimiter, headEnd);
  while (at >= 0) {
    const after = at + delimiter.length;
    if (text.startsWith('--', after)) {
      result.closed = true;
      break;
    }
    const next = text.indexOf(`\r\n${delimiter}`, after);
    const part = text.slice(after, next < 0 ? undefined : next).replace(/^\r?\n/, '');
    const split = part.indexOf('\r\n\r\n');
    const partHead = split < 0 ? part : part.slice(0, split);
    result.parts.push({
      type: /^content-type:\s*(.*)$/im.exec(partHead)?.[1]?.trim() ?? '',
      content: Buffer.from(split < 0 ? '' : part.slice(split + 4), 'latin1')
        .toString('utf8')
        .trim(),
      atMs: arrivalOf(exchange.arrivals, at),
    });
    at = next < 0 ? -1 : next + 2;
  }
  return result;
}

export default {
  files: [{ path: 'cgi-bin/nph-countdown.sh', executable: true }],
  scriptTimeoutMs: 15_000,
  checks: [
    {
      task: 1,
      title: 'the response starts with a status line and has a multipart/x-mixed-replace Content-Type with a boundary',
      async run(t) {
        const pushed = await countdown(t);
        t.expect(
          /^HTTP\/1\.[01] 200\b/.test(pushed.statusLine),
          `the response starts with ${JSON.stringify(pushed.statusLine)}: an nph- script writes the whole response, so its first line is the status line, e.g. "HTTP/1.0 200 OK"`,
        );
        t.expect(
          /^multipart\/x-mixed-replace\b/i.test(pushed.head['content-type'] ?? ''),
          `Content-Type is ${JSON.stringify(pushed.head['content-type'] ?? '(none)')}; expected multipart/x-mixed-replace;boundary=…`,
        );
        t.expect(pushed.boundary, 'the Content-Type names no boundary: add ;boundary=countdown (any word that never appears in a part)');
      },
    },
    {
      task: 2,
      title: 'four text/plain parts, "3", "2", "1", "liftoff", then the closing boundary',
      async run(t) {
        const pushed = await countdown(t);
        t.expect(pushed.boundary, 'no boundary in the Content-Type, so no parts can be found');
        const contents = pushed.parts.map((p) => p.content);
        t.expect(
          JSON.stringify(contents) === JSON.stringify(['3', '2', '1', 'liftoff']),
          `the parts are ${JSON.stringify(contents)}; expected ["3","2","1","liftoff"], each after a line --${pushed.boundary}, its own Content-Type line and an empty line`,
        );
        const untyped = pushed.parts.findIndex((p) => !/^text\/plain\b/i.test(p.type));
        t.expect(
          untyped < 0,
          `part ${untyped + 1} has Content-Type ${JSON.stringify(pushed.parts[untyped]?.type ?? '')}; each part needs its own "Content-Type: text/plain" line`,
        );
        t.expect(pushed.closed, `the body never closes: after the last part write --${pushed.boundary}-- (the boundary with two more dashes)`);
      },
    },
    {
      task: 3,
      title: 'the parts arrive about a second apart, each as it is written',
      async run(t) {
        const { parts } = await countdown(t);
        t.expect(parts.length === 4, `${parts.length} parts arrived; task 2 first`);
        const gaps = parts.slice(1).map((p, i) => Math.round(p.atMs - parts[i]!.atMs));
        // A lower bound only: a slow machine makes the gaps longer, never shorter.
        t.expect(
          gaps.every((gap) => gap >= 500),
          `the gaps between parts were ${gaps.join(', ')} ms: wait about a second between parts (sleep 1), and flush each part as you write it — buffered output arrives all at once, at the end`,
        );
      },
    },
  ],
} satisfies Suite;
