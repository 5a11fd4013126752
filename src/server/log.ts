/**
 * The access log and the error log. The access log speaks NCSA's Common Log Format (NCSA
 * httpd, 1993; Apache's "common"), "combined" (CLF plus Referer and User-Agent) or one JSON
 * object per line. The error log tags every line, including each line a script writes to
 * stderr, with the script that caused it.
 */
import { writeSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { paintErr as paint } from '../ui.ts';

export const logFormats = ['clf', 'combined', 'json'] as const;
export type LogFormat = (typeof logFormats)[number];

export interface AccessEntry {
  remoteAddress: string;
  time: Date;
  method: string;
  target: string;
  protocol: string;
  status: number;
  /** Body bytes sent, when known. */
  bytes: number | undefined;
  referer: string | undefined;
  userAgent: string | undefined;
  durationMs: number;
}

export type ErrorLevel = 'error' | 'warn' | 'info' | 'stderr';

export interface Logger {
  access(entry: AccessEntry): void;
  /** Writes out access-log lines held in the buffer, if any. */
  flush(): void;
  /** One line for the error log; `source` names the script or part of the server concerned. */
  error(level: ErrorLevel, source: string, message: string): void;
}

export interface LoggerOptions {
  format: LogFormat;
  /** No access log at all. */
  quiet?: boolean;
  out?: Writable;
  err?: Writable;
  /** Hold access-log lines and write them in batches (see LogBuffer); unbuffered without. */
  buffer?: LogBuffer;
}

/**
 * nginx's `access_log ... buffer=64k flush=1s`: lines are written once `bytes` of them have
 * gathered, `flushMs` after the first of them at the latest, and at exit. One write for
 * hundreds of lines instead of one each: at tens of thousands of requests a second, a write per
 * line costs more than a small handler does. Exit is the process's 'exit' event, which every
 * clean shutdown passes through (and process.exit() too); writes to a file or a pipe are
 * synchronous on Linux, so what is written there arrives. A process killed by a signal it does
 * not handle loses what it held, as nginx's worker does.
 */
export interface LogBuffer {
  bytes: number;
  flushMs: number;
}

/** nginx's example values: 64 KiB, or one second. */
export const defaultLogBuffer: LogBuffer = { bytes: 64 * 1024, flushMs: 1000 };

export function createLogger({ format, quiet = false, out = process.stdout, err = process.stderr, buffer }: LoggerOptions): Logger {
  let held = '';
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (held === '') return;
    const lines = held;
    held = '';
    if (fd === undefined) out.write(lines);
    else writeAll(fd, lines);
  };
  // process.stdout into a pipe is not synchronous after all: a large write at exit is cut short
  // (measured: 885 of 5000 lines reached `| wc -l`). So a buffer bound for a file descriptor is
  // written with write(2) until all of it is taken, as nginx writes its log: nothing is ever
  // left queued in memory for an exit to lose.
  const fd = buffer && typeof (out as { fd?: unknown }).fd === 'number' ? (out as unknown as { fd: number }).fd : undefined;
  if (buffer && !quiet) process.on('exit', flush);
  return {
    access(entry) {
      if (quiet) return;
      const line = `${formatAccess(entry, format)}\n`;
      if (!buffer) return void out.write(line);
      held += line;
      if (held.length >= buffer.bytes) flush();
      // unref: a line waiting to be written must not keep the process alive; 'exit' writes it.
      else timer ??= setTimeout(flush, buffer.flushMs).unref();
    },
    flush,
    error(level, source, message) {
      err.write(`${formatError(format, level, source, message)}\n`);
    },
  };
}

/** Blocks until `text` is written, waiting out a full pipe (EAGAIN) for up to 10 s, then gives up. */
function writeAll(fd: number, text: string): void {
  const bytes = Buffer.from(text);
  const giveUpAt = Date.now() + 10_000;
  for (let done = 0; done < bytes.length; ) {
    try {
      done += writeSync(fd, bytes, done);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN' || Date.now() > giveUpAt) return;
      Atomics.wait(pause, 0, 0, 1);
    }
  }
}
const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * One error-log line. Exported for a writer that cannot go through a Logger: embedded mode's
 * watchdog thread, which must write while the main thread (and its streams) are stuck.
 */
export function formatError(format: LogFormat, level: ErrorLevel, source: string, message: string): string {
  const time = new Date().toISOString();
  if (format === 'json') return JSON.stringify({ time, level, source, message });
  return `${paint.dim(`[${time}]`)} ${levelTag[level](`[${level}]`)} ${paint.bold(source)}: ${message}`;
}

const levelTag: Record<ErrorLevel, (text: string) => string> = {
  error: paint.red,
  warn: paint.yellow,
  info: paint.cyan,
  stderr: paint.magenta,
};

export function formatAccess(entry: AccessEntry, format: LogFormat): string {
  if (format === 'json') {
    const { time, ...rest } = entry;
    return JSON.stringify({ time: time.toISOString(), ...rest });
  }
  const request = `${entry.method} ${entry.target} ${entry.protocol}`;
  const common = `${entry.remoteAddress} - - [${clfTime(entry.time)}] "${escapeField(request)}" ${entry.status} ${entry.bytes ?? '-'}`;
  if (format === 'clf') return common;
  return `${common} "${escapeField(entry.referer ?? '-')}" "${escapeField(entry.userAgent ?? '-')}"`;
}

const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** The last second formatted: a busy log writes the same second thousands of times. */
let lastSecond = Number.NaN;
let lastClfTime = '';

/** CLF's time: [10/Oct/2000:13:55:36 +0000], always UTC here. */
export function clfTime(date: Date): string {
  const second = Math.floor(date.getTime() / 1000);
  if (second === lastSecond) return lastClfTime;
  const pad = (n: number) => String(n).padStart(2, '0');
  lastSecond = second;
  lastClfTime = `${pad(date.getUTCDate())}/${months[date.getUTCMonth()]}/${date.getUTCFullYear()}:${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} +0000`;
  return lastClfTime;
}

const UNSAFE = /[\\"\x00-\x1f\x7f]/;

/** Quotes and control characters in a logged field must not forge a log line (Apache escapes them too). */
function escapeField(field: string): string {
  if (!UNSAFE.test(field)) return field;
  return field.replace(/[\\"\x00-\x1f\x7f]/g, (c) => (c === '"' || c === '\\' ? `\\${c}` : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
}
