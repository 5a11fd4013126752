/**
 * A script's output on its way to the client, for the gateway (./gateway.ts): answered in one
 * piece when it came whole, copied with backpressure when it streams, and the moment a run counts
 * as over once its output has ended.
 */
import { once } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { planWholeOutput } from '../cgi/response.ts';
import { copyChunks } from '../io/copy.ts';
import type { ScriptRun } from '../mode.ts';
import type { Exchange } from './exchange.ts';

/**
 * The whole-output path's answer: a document or client redirect whose bytes are all in hand, sent
 * with one writeHead and one end: no header object, no stream, no copy. Framing is what the
 * streamed path would give (the script's Content-Length, else chunked), so the bytes on the wire
 * do not depend on the path taken. False, with nothing sent, for anything the streamed path must
 * judge or word: a bad head, a local redirect, a body that belies its Content-Length, a status
 * that has no body (node would drop it silently), or no body at all (node frames an empty
 * response with Content-Length: 0 only when no head was written first).
 */
export function sendWhole(ex: Exchange, output: Buffer): boolean {
  const whole = planWholeOutput(output);
  if (!whole) return false;
  const { plan, headerLines, body } = whole;
  if (plan.kind === 'local-redirect' || plan.status === 204 || plan.status === 304 || body.length === 0) return false;
  if (plan.contentLength !== undefined && plan.contentLength !== body.length) return false;
  ex.res.writeHead(plan.status, plan.reason, headerLines);
  ex.res.end(body);
  ex.logged.bytes = body.length;
  return true;
}

/**
 * How long after the end of a script's stdout its exit counts as coming with it: a crash closes
 * stdout as it exits, and its status (known a moment later) must still cut the response.
 */
export const exitWithEofMs = 500;

/** Whether the run ends within `ms`. */
export function exitWithin(run: ScriptRun, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => (timer = setTimeout(resolve, ms, false)));
  return Promise.race([run.finished.then(() => true), late]).finally(() => clearTimeout(timer));
}

/**
 * Copies a script's output to the client with backpressure (src/io/copy.ts). Stops at `limit`
 * bytes (a declared Content-Length), noting an overflow if a chunk ran past it. Resolves once the
 * limit is reached, the output ends (`ended`: end of file) or is torn down (the script was killed:
 * the caller decides what the client sees), or the request is stopped (its client gone among the
 * reasons). `wrote` hears of every chunk.
 */
export async function copy(
  from: Readable,
  to: Writable,
  signal: AbortSignal,
  limit: number,
  wrote: () => void,
): Promise<{ bytes: number; overflow: boolean; ended: boolean }> {
  let bytes = 0;
  let overflow = false;
  // A Content-Length of 0 is complete before it starts.
  if (limit === 0) return { bytes, overflow, ended: false };
  const end = await copyChunks(
    from,
    (chunk) => {
      wrote();
      if (chunk.length > limit - bytes) {
        to.write(chunk.subarray(0, limit - bytes));
        bytes = limit;
        overflow = true;
        return 'stop';
      }
      bytes += chunk.length;
      const more = to.write(chunk);
      if (bytes === limit) return 'stop';
      return more ? 'more' : 'full';
    },
    () => once(to, 'drain', { signal }),
    signal,
  );
  return { bytes, overflow, ended: end.how === 'ended' };
}

/** Reads what is left of the output and drops it; resolves with how many bytes that was. */
export function discard(from: Readable, signal: AbortSignal): Promise<number> {
  let bytes = 0;
  const counting = (chunk: Buffer) => (bytes += chunk.length);
  from.on('data', counting);
  from.resume();
  const ended = signal.aborted ? Promise.resolve() : finished(from).catch(() => {});
  const stopped = new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  return Promise.race([ended, stopped]).then(() => {
    from.off('data', counting);
    return bytes;
  });
}
