/**
 * The watchdog thread of embedded mode (started by ./watchdog.ts). It runs its own event loop
 * beside the server's and checks the heartbeat the main thread stamps into shared memory. When
 * the stamps stop for `blockedAfterMs`, a script has taken the main thread, and this thread says
 * which one and for how long, again as the block goes on (at double the time each report), and
 * once more when it ends.
 *
 * It writes with fs.writeSync straight to the error log's file descriptor: the main thread's
 * streams and Logger only move when the main thread does, and it is stuck.
 */
import { writeSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { formatError, type ErrorLevel } from '../server/log.ts';
import { beatMs, maxScripts, slot, type WatchdogData } from './watchdog.ts';

const { shared, blockedAfterMs, format, fd, pid } = workerData as WatchdogData;
const view = new Int32Array(shared);
const names = new Map<number, string>();
parentPort?.on('message', ({ id, name }: { id: number; name: string }) => names.set(id, name));

/** Who holds the main thread, as far as the shared memory can tell. */
interface Culprit {
  source: string;
  how: string;
}

let lastBeat = Atomics.load(view, slot.beat);
let lastChange = performance.now();
let blocked: { culprit: Culprit; nextReportMs: number } | undefined;

setInterval(() => {
  const beat = Atomics.load(view, slot.beat);
  const now = performance.now();
  if (beat !== lastBeat) {
    if (blocked) write('info', blocked.culprit.source, `server process ${pid} is running again, after ${seconds(now - lastChange)} blocked`);
    lastBeat = beat;
    lastChange = now;
    blocked = undefined;
    return;
  }
  const stalled = now - lastChange;
  if (!blocked && stalled >= blockedAfterMs) {
    const culprit = find();
    blocked = { culprit, nextReportMs: stalled * 2 };
    write(
      'error',
      culprit.source,
      `has blocked the event loop of server process ${pid} for ${seconds(stalled)} ${culprit.how}: ` +
        'it runs on the server thread, so no other request is served until it returns',
    );
  } else if (blocked && stalled >= blocked.nextReportMs) {
    blocked.nextReportMs = stalled * 2;
    write('warn', blocked.culprit.source, `still blocking server process ${pid}: ${seconds(stalled)} so far`);
  }
}, beatMs);

function find(): Culprit {
  const inHandler = Atomics.load(view, slot.inHandler);
  if (inHandler) return { source: nameOf(inHandler), how: 'in its handler' };
  // Past its first `await` a handler runs from a promise job that nothing here can mark, so the
  // requests in flight are the best evidence left (an import's top-level code lands here too).
  const running: string[] = [];
  for (let id = 1; id < maxScripts; id++) if (Atomics.load(view, slot.running + id) > 0) running.push(nameOf(id));
  if (running.length === 1) return { source: running[0]!, how: '(the only script running)' };
  if (running.length > 1) return { source: 'server', how: `while these scripts were running: ${running.join(', ')}` };
  return { source: 'server', how: 'with no script running (a timer or callback a script left behind?)' };
}

function nameOf(id: number): string {
  return names.get(id) ?? `script #${id}`;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

function write(level: ErrorLevel, source: string, message: string): void {
  const line = Buffer.from(`${formatError(format, level, source, message)}\n`);
  // A non-blocking pipe may refuse a write for a moment (EAGAIN): retry a few times, then give up
  // rather than spin, since a lost log line is better than a second stuck thread.
  for (let written = 0, tries = 0; written < line.length && tries < 100; tries++) {
    try {
      written += writeSync(fd, line, written);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') return;
    }
  }
}
