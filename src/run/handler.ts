/**
 * The second of the two script runners every mode composes: call a handler in this process.
 * Embedded mode runs every script this way (mod_perl's Apache::Registry, 1996; mod_php, 1997),
 * and the FastCGI worker runs handler scripts this way, one process serving many requests.
 *
 * A handler script is imported once and its default export called per request with the same
 * { env, stdin, stdout } as under CGI (src/script/handler.ts): no process to start, no socket
 * to cross. The price is that the script shares this process's memory and fate, and the runner
 * shows that rather than hiding it:
 *
 * - a changed file is imported again (mod_perl's Apache::Reload, PHP opcache's timestamp check)
 *   and the log says so. ESM cannot unload a module, so each old version stays in memory for
 *   the life of the process, as the packages Apache::Reload recompiled did;
 * - module-level state lives as long as the process (counter.js counts up);
 * - a handler that throws before writing is the server's own fault (500), not a bad gateway:
 *   Apache::Registry answered a `die` with 500;
 * - a handler cannot be killed: past the time limit its stdout is closed and it is abandoned;
 * - a handler that blocks the event loop stops everything: a watchdog thread says which one
 *   (./watchdog.ts).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { pathToFileURL } from 'node:url';
import { PassThrough } from 'node:stream';
import type { CgiRequest, ScriptExit, ScriptRun, WholeAttempt } from '../mode.ts';
import type { Script } from '../script/describe.ts';
import { callWebSocket, type Handler, type WebSocketHandler } from '../script/handler.ts';
import type { LogFormat, Logger } from '../server/log.ts';
import type { ProcessStatus } from '../mode.ts';
import { HandlerOutput } from './handler-output.ts';
import { noWatchdog, startWatchdog } from './watchdog.ts';

export interface HandlerRunnerOptions {
  /** For the mode's own lines: re-imports, and handlers that fail after being abandoned. */
  logger: Logger;
  /** The error log's format, for the watchdog thread, which writes its lines itself. */
  logFormat?: LogFormat;
  /** How long the event loop may stand still before the watchdog says so. */
  blockedAfterMs?: number;
  /** Start the watchdog thread (about 20 MB: a V8 instance of its own). Default true. */
  watchdog?: boolean;
}

/** One script file across its versions. */
interface Loaded {
  /** For the watchdog: small, stable and never 0. */
  id: number;
  name: string;
  /** The version imported, or being imported. */
  mtimeMs: number;
  /** Set once that version is imported, so the hot path calls it without waiting on a promise. */
  handler?: Handler;
  /** The module itself: its WebSocket entry is called from the same instance, state shared. */
  module: Promise<Record<string, unknown>>;
  loading: Promise<Handler>;
  /** Requests in flight. */
  running: number;
}

/** Output kept whole, at most: more than this is streamed (a 64 KiB pipe buffer's worth). */
const keepBytes = 64 * 1024;

const notWhole = Promise.resolve(undefined);

/**
 * Work for the end of this turn of the event loop: one setImmediate for every request that
 * began in the turn, not one each. By then a handler that waits on nothing has ended.
 */
let turnEnd: Array<() => void> = [];
function atEndOfTurn(work: () => void): void {
  if (turnEnd.length === 0) {
    setImmediate(() => {
      const due = turnEnd;
      turnEnd = [];
      for (const each of due) each();
    });
  }
  turnEnd.push(work);
}

export interface HandlerRunner {
  /** Calls the handler, its output a stream from the start. */
  run(request: CgiRequest): ScriptRun;
  /** Calls the handler, its output kept whole if it ends within this turn (src/mode.ts, WholeAttempt). */
  tryWhole(request: Omit<CgiRequest, 'signal'>): WholeAttempt;
  /** Calls the script's WebSocket entry for one connection (src/server/websocket.ts). */
  socket(request: CgiRequest): ScriptRun;
  /** This process, as the status page shows it. */
  status(): ProcessStatus;
  /** Stops the watchdog thread. Handlers still running are left to settle, or not. */
  close(): Promise<void>;
}

export function createHandlerRunner({ logger, logFormat = 'clf', blockedAfterMs = 1000, watchdog: watching = true }: HandlerRunnerOptions): HandlerRunner {
  const modules = new Map<string, Loaded>();
  const watchdog = watching ? startWatchdog({ blockedAfterMs, format: logFormat, fd: 2 }) : noWatchdog;
  const startedAt = Date.now();
  let served = 0;
  let imports = 0;
  let abandoned = 0;

  /**
   * The handler for this version of the file. The server hands over the script as described
   * (src/script/describe.ts) from a stat it makes at most once per --revalidate, as PHP's opcache
   * does once per revalidate_freq, so comparing mtimes costs nothing: no stat here, and no import
   * unless the file changed.
   */
  function load({ file, name, mtimeMs }: Script): Loaded {
    let loaded = modules.get(file);
    if (loaded?.mtimeMs === mtimeMs) return loaded;
    // The query makes each version a module of its own: the same URL would give the cached one.
    const module: Promise<Record<string, unknown>> = import(`${pathToFileURL(file).href}?mtime=${mtimeMs}`);
    const loading = module.then(({ default: handler }) => {
      if (typeof handler !== 'function') throw new Error('its default export is not a function');
      return handler as Handler;
    });
    // Each request reports its own failure: unobserved, a broken import would be an unhandled rejection.
    module.catch(() => {});
    imports++;
    if (loaded) {
      logger.error('info', name, 'changed on disk: importing it again; the old version stays in memory (ESM cannot unload a module)');
      Object.assign(loaded, { mtimeMs, module, loading, handler: undefined });
    } else {
      loaded = { id: modules.size + 1, name, mtimeMs, module, loading, running: 0 };
      modules.set(file, loaded);
      watchdog.name(loaded.id, name);
    }
    const entry = loaded;
    // Unless a newer version came along meanwhile. The rejection is each request's to report.
    loading.then(
      (handler) => {
        if (entry.mtimeMs === mtimeMs) entry.handler = handler;
      },
      () => {},
    );
    return entry;
  }

  /**
   * Calls the handler for one request. Its output is kept (./handler-output.ts) until it ends,
   * the end of this turn of the event loop comes, or it passes `keepBytes`; whichever is first
   * decides between the whole output and a stream. `streaming` skips the wait (run()).
   */
  function begin({ script, env, body }: Omit<CgiRequest, 'signal'>, streaming: boolean): WholeAttempt {
    const loaded = load(script);
    loaded.running++;
    watchdog.begin(loaded.id);
    /** How the handler ended, once it has (or was cut off). */
    let exit: ScriptExit | undefined;
    let called = false;
    let cutOff = false;
    let stopWaiting: AbortSignal | undefined;
    let tellFinished: ((exit: ScriptExit) => void) | undefined;
    let tellWhole: ((output: Buffer | undefined) => void) | undefined;
    const output = streaming ? notWhole : new Promise<Buffer | undefined>((resolve) => (tellWhole = resolve));
    /** No whole output after all: whoever waits for it is told to stream. */
    const giveUpWhole = () => {
      tellWhole?.(undefined);
      tellWhole = undefined;
    };
    const stdout = new HandlerOutput(keepBytes, giveUpWhole);
    // A handler may destroy its stdout with an error; the gateway sees it end, the server lives.
    stdout.on('error', () => {});

    const settle = (ended: ScriptExit) => {
      exit = ended;
      stopWaiting?.removeEventListener('abort', onAbort);
      served++;
      loaded.running--;
      watchdog.end(loaded.id);
      tellWhole?.(ended.ok && !stdout.cut ? stdout.whole() : undefined);
      tellWhole = undefined;
      tellFinished?.(ended);
    };
    // A promise cannot be killed, and the handler shares this process, so there is no process
    // to kill either: close its stdout (the shipped scripts stop on 'close') and move on. The
    // handler may still settle later, or never, and is then garbage like any other.
    function onAbort() {
      if (exit) return;
      cutOff = true;
      if (called) abandoned++;
      stdout.cutOff();
      settle({ ok: false, reason: called ? 'a handler cannot be killed, so it was abandoned with its stdout closed' : 'its module was still being imported' });
    }
    /** A callback the handler left behind threw, or a promise of its rejected unawaited (containFaults). */
    const fault: Fault = {
      logger,
      script: loaded.name,
      fail(error) {
        if (exit) return false;
        if (!stdout.writableEnded && !stdout.destroyed) stdout.end();
        settle({ ok: false, serverFault: !stdout.wrote, reason: `a callback of its handler failed: ${describeError(error)}` });
        return true;
      },
    };
    const call = (handler: Handler) => {
      if (cutOff) return;
      called = true;
      let result: unknown;
      watchdog.enter(loaded.id);
      try {
        // Everything the handler starts runs in this request's async context, so a fault in it,
        // however late, is charged to this script and this request.
        result = requestScope.run(fault, handler, { env, stdin: body, stdout });
      } catch (error) {
        result = Promise.reject(error);
      } finally {
        watchdog.leave();
      }
      Promise.resolve(result).then(
        () => {
          if (cutOff) return void abandoned--;
          if (exit) return; // a callback of it failed first (containFaults)
          // The response is complete when the handler settles, whatever it left running.
          if (!stdout.writableEnded && !stdout.destroyed) stdout.end();
          settle({ ok: true });
        },
        (error: unknown) => {
          if (cutOff) {
            abandoned--;
            return logger.error('warn', loaded.name, `its abandoned handler failed later: ${describeError(error)}`);
          }
          if (exit) return logger.error('warn', loaded.name, `its handler failed as well: ${describeError(error)}`);
          if (!stdout.writableEnded && !stdout.destroyed) stdout.end();
          settle({ ok: false, serverFault: !stdout.wrote, reason: `its handler failed: ${describeError(error)}` });
        },
      );
    };

    if (loaded.handler) call(loaded.handler);
    else {
      loaded.loading.then(call, (error: unknown) => {
        if (cutOff) return;
        stdout.end();
        settle({ ok: false, serverFault: true, reason: `cannot be imported: ${describeError(error)}` });
      });
    }
    // Still running when the event loop comes round: it waits on something, so it streams.
    if (tellWhole) atEndOfTurn(giveUpWhole);

    return {
      output,
      stream(signal) {
        giveUpWhole();
        const out = stdout.stream();
        if (exit) return { stdout: out, finished: Promise.resolve(exit), pid: process.pid };
        const finished = new Promise<ScriptExit>((resolve) => (tellFinished = resolve));
        stopWaiting = signal;
        signal.addEventListener('abort', onAbort, { once: true });
        if (signal.aborted) onAbort();
        return { stdout: out, finished, pid: process.pid };
      },
    };
  }

  function status(): ProcessStatus {
    const { rss, heapUsed } = process.memoryUsage();
    const scripts = [...modules.values()].filter((m) => m.running > 0).map((m) => m.name);
    const state = scripts.length > 0 ? 'busy' : 'idle';
    return { pid: process.pid, state, served, scripts, startedAt, abandoned, imports, rssBytes: rss, heapUsedBytes: heapUsed };
  }

  /**
   * A WebSocket connection's entry, in this process and the same module instance as its HTTP
   * handler (a chat room's state is shared by both). The connection closing stops it as a time
   * limit stops a handler: its streams closed, the promise abandoned.
   */
  function socket({ script, env, body, signal }: CgiRequest): ScriptRun {
    const loaded = load(script);
    // The lines it sends, read as they come: nothing of a response to keep or judge here.
    const stdout = new PassThrough();
    loaded.running++;
    const finished = loaded.module
      .then(async ({ websocket }) => {
        if (typeof websocket !== 'function') throw new Error('it has no `export function websocket`');
        const ended = new Promise<never>((_resolve, reject) => {
          const stop = () => reject(new Error('the connection closed'));
          if (signal.aborted) stop();
          signal.addEventListener('abort', stop, { once: true });
        });
        ended.catch(() => {});
        await Promise.race([callWebSocket(websocket as WebSocketHandler, env, body, stdout), ended]);
      })
      .then(
        (): ScriptExit => ({ ok: true }),
        (error: unknown): ScriptExit => ({
          ok: false,
          reason: signal.aborted ? 'the connection closed' : `its WebSocket entry failed: ${describeError(error)}`,
        }),
      )
      .then((exit) => {
        loaded.running--;
        served++;
        stdout.end();
        return exit;
      });
    return { stdout, finished, pid: process.pid };
  }

  return {
    run: (request) => begin(request, true).stream(request.signal),
    tryWhole: (request) => begin(request, false),
    socket,
    status,
    close: () => watchdog.close(),
  };
}

/** The request whose handler code is running, however deep in its callbacks (AsyncLocalStorage). */
interface Fault {
  /** The runner's log: each server in a process (tests run several) keeps its own. */
  logger: Logger;
  script: string;
  /** Ends the request as failed; false when it had already ended. */
  fail(error: unknown): boolean;
}
const requestScope = new AsyncLocalStorage<Fault>();

/**
 * A bug in a handler's callback (a `throw` in a timer, a rejected promise nobody awaits) is no
 * exception any handler call can catch: Node sends it to the process, and its default is to
 * exit, taking every request in flight with it. mod_perl had the same trouble with a `die` in
 * a cleanup handler. Installed once by a process that runs handlers, this charges the fault to
 * the script whose code raised it (the async context the handler ran in): that request fails
 * (500 if nothing was printed yet, else its response is cut) and the log names the script; a
 * fault after its response was complete is only logged. The process keeps serving the others.
 *
 * A fault no script can be named for is the server's own bug. Node's advice is that a process
 * is not safe to resume then: with a supervisor to replace it (`onUnknown: 'exit'`) it says so
 * and exits; alone, with nobody to replace it, it logs the fault and serves on.
 */
export function containFaults(logger: Logger, onUnknown: 'exit' | 'serve-on'): void {
  unknownFaults = { logger, onUnknown }; // the latest server in this process speaks for it
  if (faultsContained) return;
  faultsContained = true;
  const contain = (error: unknown, how: string) => {
    const fault = requestScope.getStore();
    if (fault) {
      if (!fault.fail(error)) fault.logger.error('error', fault.script, `${how} after its response was complete: ${describeError(error)}`);
      return;
    }
    const { logger, onUnknown } = unknownFaults;
    if (onUnknown === 'exit') {
      logger.error('error', 'server', `${how}, in no script's code (a bug of webhist's own): this process exits and is replaced: ${describeError(error)}`);
      process.exit(70); // EX_SOFTWARE
    }
    logger.error('error', 'server', `${how}, in no script's code (a bug of webhist's own); serving on: ${describeError(error)}`);
  };
  process.on('uncaughtException', (error) => contain(error, 'a callback threw'));
  process.on('unhandledRejection', (reason) => contain(reason, 'a promise was rejected and nobody awaited it'));
}
let faultsContained = false;
let unknownFaults: { logger: Logger; onUnknown: 'exit' | 'serve-on' };

/** An error as one log line: what it said and where it came from. */
function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const at = error.stack?.split('\n').find((line) => line.trimStart().startsWith('at '));
  // Without load()'s ?mtime= cache-buster: the file a learner opens has no such name.
  return `${error.name}: ${error.message}${at ? ` (${at.trim()})` : ''}`.replace(/\?mtime=[\d.]+/g, '');
}
