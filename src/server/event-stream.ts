/**
 * /webhist/events: the live view's events (src/live-events.ts) as Server-Sent Events (the HTML
 * Living Standard, §9.2 "Server-sent events"): `text/event-stream`, one `data:` line of JSON per
 * message, a blank line after each. The format is documented in docs/status.md.
 *
 * Each viewer has a bounded queue. Events gather for 50 ms and go out in one write; when the socket pushes back (write() returns false), events wait in the queue until it
 * drains, and past `maxQueued` they are counted instead of kept, then announced as one
 * `{"type":"lost","count":N}` message where the gap is. A viewer that stops reading therefore
 * costs at most the socket's buffer, one batch and `maxQueued` events, however long it sleeps.
 */
import { watchEvents, type LiveEvent } from '../live-events.ts';
import { replyText, type Exchange } from './exchange.ts';

/** A message that is not a bus event: the greeting, the counters each second, a gap. */
type StreamMessage = LiveEvent | { type: 'hello' | 'stats'; [field: string]: unknown } | { type: 'lost'; count: number };

export interface EventStreamOptions {
  /** The counters and the process table, sent on connect (as `hello`) and every `statsEveryMs` (as `stats`). */
  stats(): Record<string, unknown>;
  statsEveryMs?: number;
  /** Events a viewer may have waiting before further ones are dropped and counted. */
  maxQueued?: number;
  /** Viewers at once; past it, 503. */
  maxViewers?: number;
}

/** What a viewer holds now: for tests of the bound, and the status page. */
export interface ViewerState {
  queued: number;
  lost: number;
  waitingForDrain: boolean;
  bufferedBytes: number;
}

interface Viewer {
  queue: StreamMessage[];
  lost: number;
  waitingForDrain: boolean;
  /** Set while events gather for the next write. */
  timer?: NodeJS.Timeout;
  exchange: Exchange;
}

/**
 * How long events gather before they are written. Under load a write per turn of the event loop
 * was a write per request or two, and cost a viewed embedded server more CPU than its requests
 * (bench/viewer-cost.ts); a page redraws a few times a second, so 50 ms loses it nothing.
 */
const flushEveryMs = 50;

export function createEventStream({ stats, statsEveryMs = 1000, maxQueued = 2000, maxViewers = 16 }: EventStreamOptions) {
  const viewers = new Set<Viewer>();
  let ticker: NodeJS.Timeout | undefined;

  function send(viewer: Viewer, message: StreamMessage): void {
    if (viewer.queue.length >= maxQueued) {
      viewer.lost++;
      return;
    }
    viewer.queue.push(message);
    if (viewer.waitingForDrain) return;
    // A busy server fills the queue faster than the timer empties it: then it goes out at once.
    if (viewer.queue.length >= maxQueued / 2) flush(viewer);
    else
      viewer.timer ??= setTimeout(() => {
        viewer.timer = undefined;
        flush(viewer);
      }, flushEveryMs);
  }

  function flush(viewer: Viewer): void {
    const { res } = viewer.exchange;
    if (res.destroyed || viewer.waitingForDrain) return;
    let text = '';
    for (const message of viewer.queue) text += `data: ${JSON.stringify(message)}\n\n`;
    viewer.queue.length = 0;
    if (viewer.lost) {
      text += `data: ${JSON.stringify({ type: 'lost', count: viewer.lost })}\n\n`;
      viewer.lost = 0;
    }
    if (!text || res.write(text)) return;
    viewer.waitingForDrain = true;
    res.once('drain', () => {
      viewer.waitingForDrain = false;
      flush(viewer);
    });
  }

  function open(ex: Exchange): void {
    if (viewers.size >= maxViewers) {
      return replyText(ex, 503, `Service Unavailable: ${maxViewers} viewers already watch this server`, { 'Retry-After': '5' });
    }
    const { res } = ex;
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      // A proxy in front (nginx) must pass each message on, not hold them for a buffer's worth.
      'X-Accel-Buffering': 'no',
    });
    if (ex.method === 'HEAD') return void res.end();
    // How long a browser waits before it reconnects (§9.2.4 "retry").
    res.write('retry: 2000\n\n');
    res.socket?.setNoDelay(true);
    const viewer: Viewer = { queue: [], lost: 0, waitingForDrain: false, exchange: ex };
    viewers.add(viewer);
    send(viewer, { ...stats(), type: 'hello' });
    const stop = watchEvents((event) => send(viewer, event));
    ticker ??= setInterval(() => {
      const now = { ...stats(), type: 'stats' as const };
      for (const each of viewers) send(each, now);
    }, statsEveryMs);
    res.once('close', () => {
      stop();
      clearTimeout(viewer.timer);
      viewers.delete(viewer);
      if (viewers.size === 0) {
        clearInterval(ticker);
        ticker = undefined;
      }
    });
  }

  return {
    open,
    viewers(): ViewerState[] {
      return [...viewers].map(({ queue, lost, waitingForDrain, exchange }) => ({
        queued: queue.length,
        lost,
        waitingForDrain,
        bufferedBytes: exchange.res.writableLength,
      }));
    },
    /** Ends every stream: the server is closing, and an open stream would hold it up. */
    close(): void {
      for (const { exchange } of viewers) exchange.res.end();
    },
  };
}
