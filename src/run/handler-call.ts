/**
 * One call of a handler by the runner (./handler.ts): its output, how it ended, and whoever
 * waits on either. It is one object with its steps as methods, not a dozen closures made afresh
 * for every request: embedded mode calls a handler tens of thousands of times a second, and the
 * closures, promises and listeners around a call cost more than a small handler does.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { CgiRequest, ScriptExit, ScriptRun, WholeAttempt } from '../mode.ts';
import type { Handler } from '../script/handler.ts';
import type { Logger } from '../server/log.ts';
import { HandlerOutput } from './handler-output.ts';
import type { Watchdog } from './watchdog.ts';

/** One script file across its versions. */
export interface Loaded {
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

/** What every call shares with the runner that made it. */
export interface Runner {
  logger: Logger;
  watchdog: Watchdog;
  counts: { served: number; abandoned: number };
}

/** Output kept whole, at most: more than this is streamed (a 64 KiB pipe buffer's worth). */
const keepBytes = 64 * 1024;

const notWhole = Promise.resolve(undefined);
const succeeded: ScriptExit = { ok: true };
const ignore = () => {};

/**
 * Work for the end of this turn of the event loop: one setImmediate for every call that began
 * in the turn, not one each. By then a handler that waits on nothing has ended.
 */
let turnEnd: HandlerCall[] = [];
function giveUpAtEndOfTurn(call: HandlerCall): void {
  if (turnEnd.length === 0) {
    setImmediate(() => {
      const due = turnEnd;
      turnEnd = [];
      for (const each of due) each.giveUpWhole();
    });
  }
  turnEnd.push(call);
}

/**
 * Calls the handler for one request. Its output is kept (./handler-output.ts) until it ends,
 * the end of this turn of the event loop comes, or it passes `keepBytes`; whichever is first
 * decides between the whole output and a stream. `streaming` skips the wait (the runner's run()).
 */
export class HandlerCall implements WholeAttempt, Fault {
  readonly output: Promise<Buffer | undefined>;
  /** A handler runs in this process. */
  readonly pid = process.pid;
  /** For the fault handler (containFaults): whose callback failed. */
  readonly script: string;
  readonly logger: Logger;
  private readonly stdout: HandlerOutput;
  /** How the handler ended, once it has (or was cut off). */
  private exit: ScriptExit | undefined;
  private called = false;
  private cutOff = false;
  private stopWaiting: AbortSignal | undefined;
  private onAbort: (() => void) | undefined;
  private tellFinished: ((exit: ScriptExit) => void) | undefined;
  private tellWhole: ((output: Buffer | undefined) => void) | undefined;
  private readonly runner: Runner;
  private readonly loaded: Loaded;
  private readonly request: Pick<CgiRequest, 'env' | 'body'>;

  constructor(runner: Runner, loaded: Loaded, request: Pick<CgiRequest, 'env' | 'body'>, streaming: boolean) {
    this.runner = runner;
    this.loaded = loaded;
    this.request = request;
    this.script = loaded.name;
    this.logger = runner.logger;
    loaded.running++;
    runner.watchdog.begin(loaded.id);
    this.output = streaming ? notWhole : new Promise<Buffer | undefined>((resolve) => (this.tellWhole = resolve));
    this.stdout = new HandlerOutput(keepBytes, () => this.giveUpWhole());
    // A handler may destroy its stdout with an error; the gateway sees it end, the server lives.
    this.stdout.on('error', ignore);
    if (loaded.handler) this.call(loaded.handler);
    else {
      loaded.loading.then(
        (handler) => this.call(handler),
        (error: unknown) => {
          if (this.cutOff) return;
          this.stdout.end();
          this.settle({ ok: false, serverFault: true, reason: `cannot be imported: ${describeError(error)}` });
        },
      );
    }
    // Still running when the event loop comes round: it waits on something, so it streams.
    if (this.tellWhole) giveUpAtEndOfTurn(this);
  }

  /** No whole output after all: whoever waits for it is told to stream. */
  giveUpWhole(): void {
    this.tellWhole?.(undefined);
    this.tellWhole = undefined;
  }

  /** The run as a stream from its first byte; the signal applies from now on. */
  stream(signal: AbortSignal): ScriptRun {
    this.giveUpWhole();
    const stdout = this.stdout.stream();
    if (this.exit) return { stdout, finished: Promise.resolve(this.exit), pid: process.pid };
    const finished = new Promise<ScriptExit>((resolve) => (this.tellFinished = resolve));
    const onAbort = () => this.abort();
    this.stopWaiting = signal;
    this.onAbort = onAbort;
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) onAbort();
    return { stdout, finished, pid: process.pid };
  }

  /** A callback the handler left behind threw, or a promise of its rejected unawaited (containFaults). */
  fail(error: unknown): boolean {
    if (this.exit) return false;
    this.endOutput();
    this.settle({ ok: false, serverFault: !this.stdout.wrote, reason: `a callback of its handler failed: ${describeError(error)}` });
    return true;
  }

  private call(handler: Handler): void {
    if (this.cutOff) return;
    this.called = true;
    const { watchdog } = this.runner;
    let result: unknown;
    watchdog.enter(this.loaded.id);
    try {
      // Everything the handler starts runs in this request's async context, so a fault in it,
      // however late, is charged to this script and this request.
      result = requestScope.run(this, handler, { env: this.request.env, stdin: this.request.body, stdout: this.stdout });
    } catch (error) {
      result = Promise.reject(error);
    } finally {
      watchdog.leave();
    }
    Promise.resolve(result).then(
      () => this.returned(),
      (error: unknown) => this.threw(error),
    );
  }

  private returned(): void {
    if (this.cutOff) return void this.runner.counts.abandoned--;
    if (this.exit) return; // a callback of it failed first (containFaults)
    // The response is complete when the handler settles, whatever it left running.
    this.endOutput();
    this.settle(succeeded);
  }

  private threw(error: unknown): void {
    const { logger } = this;
    if (this.cutOff) {
      this.runner.counts.abandoned--;
      return logger.error('warn', this.script, `its abandoned handler failed later: ${describeError(error)}`);
    }
    if (this.exit) return logger.error('warn', this.script, `its handler failed as well: ${describeError(error)}`);
    this.endOutput();
    this.settle({ ok: false, serverFault: !this.stdout.wrote, reason: `its handler failed: ${describeError(error)}` });
  }

  private endOutput(): void {
    if (!this.stdout.writableEnded && !this.stdout.destroyed) this.stdout.end();
  }

  /**
   * A promise cannot be killed, and the handler shares this process, so there is no process to
   * kill either: close its stdout (the shipped scripts stop on 'close') and move on. The handler
   * may still settle later, or never, and is then garbage like any other.
   */
  private abort(): void {
    if (this.exit) return;
    this.cutOff = true;
    if (this.called) this.runner.counts.abandoned++;
    this.stdout.cutOff();
    this.settle({
      ok: false,
      reason: this.called ? 'a handler cannot be killed, so it was abandoned with its stdout closed' : 'its module was still being imported',
    });
  }

  private settle(ended: ScriptExit): void {
    this.exit = ended;
    if (this.onAbort) this.stopWaiting?.removeEventListener('abort', this.onAbort);
    this.runner.counts.served++;
    this.loaded.running--;
    this.runner.watchdog.end(this.loaded.id);
    this.tellWhole?.(ended.ok && !this.stdout.cut ? this.stdout.whole() : undefined);
    this.tellWhole = undefined;
    this.tellFinished?.(ended);
  }
}

/** The request whose handler code is running, however deep in its callbacks (AsyncLocalStorage). */
export interface Fault {
  /** The runner's log: each server in a process (tests run several) keeps its own. */
  logger: Logger;
  script: string;
  /** Ends the request as failed; false when it had already ended. */
  fail(error: unknown): boolean;
}
export const requestScope = new AsyncLocalStorage<Fault>();

/** An error as one log line: what it said and where it came from. */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const at = error.stack?.split('\n').find((line) => line.trimStart().startsWith('at '));
  // Without load()'s ?mtime= cache-buster: the file a learner opens has no such name.
  return `${error.name}: ${error.message}${at ? ` (${at.trim()})` : ''}`.replace(/\?mtime=[\d.]+/g, '');
}
