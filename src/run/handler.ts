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
import { pathToFileURL } from 'node:url';
import { PassThrough } from 'node:stream';
import type { CgiRequest, ProcessStatus, ScriptExit, ScriptRun, WholeAttempt } from '../mode.ts';
import type { Script } from '../script/describe.ts';
import { callWebSocket, type Handler, type WebSocketHandler } from '../script/handler.ts';
import type { LogFormat, Logger } from '../server/log.ts';
import { describeError, HandlerCall, type Loaded, requestScope, type Runner } from './handler-call.ts';
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
  const counts = { served: 0, abandoned: 0 };
  const runner: Runner = { logger, watchdog, counts };
  let imports = 0;

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

  /** Calls the handler for one request (./handler-call.ts); `streaming` skips keeping its output whole. */
  function begin(request: Omit<CgiRequest, 'signal'>, streaming: boolean): HandlerCall {
    return new HandlerCall(runner, load(request.script), request, streaming);
  }

  function status(): ProcessStatus {
    const { rss, heapUsed } = process.memoryUsage();
    const scripts = [...modules.values()].filter((m) => m.running > 0).map((m) => m.name);
    const state = scripts.length > 0 ? 'busy' : 'idle';
    return { pid: process.pid, state, ...counts, scripts, startedAt, imports, rssBytes: rss, heapUsedBytes: heapUsed };
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
        counts.served++;
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
