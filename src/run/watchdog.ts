/**
 * The main thread's half of embedded mode's watchdog. A handler that loops synchronously stops
 * the server's one event loop, and with it every timer, socket and log line of the main thread,
 * so nothing on that thread can notice. mod_perl and mod_php had the same exposure (a Perl
 * `while (1) {}` held its Apache child until the child was killed); Apache at least had other
 * children. Here a second thread (./watchdog-thread.ts) watches a heartbeat this thread stamps
 * into shared memory, and writes the error-log line itself when the stamps stop.
 *
 * The shared memory also says which script is to blame: which handler's own code is on the
 * stack right now, and how many requests each script has in flight. Both are plain Atomics
 * stores, cheap enough for every request.
 */
import { extname } from 'node:path';
import { Worker as Thread } from 'node:worker_threads';
import type { LogFormat } from '../server/log.ts';

/** Slots of the shared Int32Array. */
export const slot = {
  /** Incremented by the main thread every `beatMs`: the heartbeat. */
  beat: 0,
  /** The id of the script whose handler is being called right now, or 0. */
  inHandler: 1,
  /** From here on, one slot per script id: its requests in flight. */
  running: 2,
} as const;

/** Script ids past this are not counted in flight (a cgi-bin this large is unheard of). */
export const maxScripts = 4096;
/** How often the main thread stamps the heartbeat. */
export const beatMs = 100;

export interface WatchdogOptions {
  /** How long the event loop may stand still before the watchdog says so. */
  blockedAfterMs: number;
  /** The error log's format, so the thread's lines look like the Logger's. */
  format: LogFormat;
  /** Where the thread writes: stderr, where `webhist serve` keeps its error log. */
  fd: number;
}

/** What the thread gets in workerData. */
export interface WatchdogData extends WatchdogOptions {
  shared: SharedArrayBuffer;
  pid: number;
}

export interface Watchdog {
  /** Tells the thread the name behind a script id, before the script first runs. */
  name(id: number, name: string): void;
  /** A request for script `id` began, or ended. */
  begin(id: number): void;
  end(id: number): void;
  /** The handler of script `id` is being called: its synchronous part runs until `leave`. */
  enter(id: number): void;
  leave(): void;
  close(): Promise<void>;
}

/** No thread and no heartbeat, for a process that has another guard (a FastCGI worker is killed at its timeout). */
export const noWatchdog: Watchdog = {
  name() {},
  begin() {},
  end() {},
  enter() {},
  leave() {},
  close: async () => {},
};

export function startWatchdog(options: WatchdogOptions): Watchdog {
  const shared = new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT * (slot.running + maxScripts));
  const view = new Int32Array(shared);
  const data: WatchdogData = { ...options, shared, pid: process.pid };
  // Beside this file as .ts (tests) or .js (the built bin), like the CGI shim.
  const thread = new Thread(new URL(`./watchdog-thread${extname(import.meta.url)}`, import.meta.url), { workerData: data });
  // Neither the thread nor the heartbeat may keep a server that is done from exiting.
  thread.unref();
  thread.on('error', (error) => process.stderr.write(`webhist: the embedded-mode watchdog thread failed: ${error.stack}\n`));
  const beat = setInterval(() => Atomics.add(view, slot.beat, 1), beatMs).unref();

  return {
    name: (id, name) => thread.postMessage({ id, name }),
    begin(id) {
      if (id < maxScripts) Atomics.add(view, slot.running + id, 1);
    },
    end(id) {
      if (id < maxScripts) Atomics.sub(view, slot.running + id, 1);
    },
    enter: (id) => Atomics.store(view, slot.inHandler, id),
    leave: () => Atomics.store(view, slot.inHandler, 0),
    async close() {
      clearInterval(beat);
      await thread.terminate();
    },
  };
}
