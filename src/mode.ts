/**
 * The one interface every process model implements (DESIGN.md, "The layers").
 *
 * The HTTP front turns a request into a CgiRequest: RFC 3875 meta-variables, the body as a
 * stream, and a signal that fires when the request must stop. A Mode turns that into the
 * bytes a CGI program prints (headers, blank line, body). Everything before and after is
 * shared, so the modes cannot drift apart in what they send the client.
 */
import type { Readable } from 'node:stream';
import type { Script } from './script/describe.ts';

export interface CgiRequest {
  script: Script;
  /** The meta-variables the script sees, built from scratch (RFC 3875 §4.1). */
  env: Record<string, string>;
  /** Command-line words from a query without '=' (RFC 3875 §4.4), already made safe. */
  args: string[];
  /** The request body: exactly CONTENT_LENGTH bytes, or empty. */
  body: Readable;
  /** Aborted, with a RequestCut as its reason, when the script must stop early. */
  signal: AbortSignal;
  /** Receives each line the script writes to stderr, for the error log. */
  logStderr(line: string): void;
}

/**
 * Every reason the gateway stops a script before it ends on its own:
 * - `timeout`: its time limit passed (--timeout until its head, --idle-timeout of silence after);
 * - `client-gone`: the client left before it had the whole response;
 * - `bad-output`: what it prints breaks RFC 3875 §6 (a bad head, more than its Content-Length),
 *   and nobody will read the rest;
 * - `redirected`: it asked for a local redirect (§6.2.2), which is served once it is stopped.
 */
export type StopReason = 'timeout' | 'client-gone' | 'bad-output' | 'redirected';

/** The abort reason a mode's signal carries: why, and the words for the error log. */
export class RequestCut extends Error {
  override name = 'RequestCut';
  readonly why: StopReason;
  constructor(why: StopReason, message: string) {
    super(message);
    this.why = why;
  }
}

/**
 * How a script ended. Anything but `ok` after output began cuts the response short.
 * `serverFault`: it failed before printing anything, for a reason of the server's own rather
 * than a bad response (the program could not be started, a handler could not be imported or
 * threw before writing), so the client gets 500, not 502.
 */
export type ScriptExit = { ok: true } | { ok: false; reason: string; serverFault?: boolean };

export interface ScriptRun {
  /** What the script prints: CGI response headers, a blank line, the body. */
  stdout: Readable;
  /** Settles once the script has ended and nothing it started is left running. */
  finished: Promise<ScriptExit>;
  /** The process running it, once known (a FastCGI request learns it when a worker accepts): for the live view. */
  readonly pid?: number;
}

/**
 * A run that may be over before anyone reads it: a handler that prints a small response and
 * returns without waiting on anything has its whole output in hand within the turn of the event
 * loop that called it; a FastCGI worker's small response arrives whole in one read, soon after.
 * The gateway then answers it in one piece; otherwise it streams it. The gateway's clock starts
 * only once `output` settles, so a mode settles it soon (undefined when in doubt).
 */
export interface WholeAttempt {
  /**
   * The whole output, once the script has ended well within this turn of the event loop, having
   * printed little; undefined once it has not (it is still running, printed much, or failed).
   */
  output: Promise<Buffer | undefined>;
  /** The run as a stream from its first byte, as run() gives it; the signal applies from now on. */
  stream(signal: AbortSignal): ScriptRun;
  /** The process that runs it (this one for a handler, a FastCGI worker's once known): the live view's. */
  readonly pid?: number;
}

export interface Mode {
  readonly name: ModeName;
  /** A line for the start-up banner: how this mode runs scripts here, where that can differ. */
  readonly note?: string;
  /** Checked before a request is accepted: why this mode cannot run a script, if it cannot. */
  refuses?(script: Script): string | undefined;
  run(request: CgiRequest): ScriptRun;
  /** Offered by a mode whose small responses can come whole (embedded, FastCGI): see WholeAttempt. */
  tryWhole?(request: Omit<CgiRequest, 'signal'>): WholeAttempt;
  /**
   * Runs a script for one WebSocket connection, websocketd's way (src/server/websocket.ts):
   * `request.body` carries the client's messages as lines, and each line of `stdout` is a message
   * back; the signal fires when the connection closes. A mode without it cannot carry a
   * WebSocket (FastCGI 1.0 has no upgrade), and the handshake is answered 501.
   */
  socket?(request: CgiRequest): ScriptRun;
  /** For the status page (/webhist/status). */
  status?(): ModeStatus;
  /** Ends every process the mode started. */
  close(): Promise<void>;
}

export const modeNames = ['cgi', 'fastcgi', 'embedded'] as const;
export type ModeName = (typeof modeNames)[number];

/** @public What a mode reports for the status page. */
export interface ModeStatus {
  mode: ModeName;
  [detail: string]: unknown;
}

/**
 * One server process on /webhist/status: the row FastCGI mode shows for a worker (php-fpm's
 * per-process status), plus what only an embedded interpreter has to say.
 */
export interface ProcessStatus {
  pid: number;
  state: 'idle' | 'busy';
  /** Requests finished by this process. */
  served: number;
  /** The scripts of the requests in flight now. */
  scripts: string[];
  startedAt: number;
  /** Handlers cut off (time limit, departed client) whose promise has not settled yet. */
  abandoned: number;
  /** Module versions imported, re-imports included: each stays in memory until the process ends. */
  imports: number;
  rssBytes: number;
  heapUsedBytes: number;
}
