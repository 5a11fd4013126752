/**
 * One CGI request forwarded over FastCGI (§6.2): the meta-variables go out as PARAMS, the body as STDIN,
 * and STDOUT comes back as the script's output. Shared by our pools (pool.ts) and by
 * --fastcgi-connect, which sends to an application someone else manages.
 *
 * A request without a body is offered to the gateway whole (src/mode.ts, WholeAttempt): a small
 * response from a persistent worker arrives complete in one read, and is then answered in one
 * piece, with no stream on either side of the gateway. The gateway starts its clock only once
 * the whole-output path gives up, so it gives up soon: at the first read that brings part of a
 * response but not its end (the script is streaming), or WHOLE_WAIT_MS after the request went out.
 */
import type { ClientResponse, FastCgiClient } from '../../src/fastcgi/client.ts';
import { ProtocolStatus, nameOf } from '../../src/fastcgi/protocol.ts';
import type { CgiRequest, ScriptExit, ScriptRun, WholeAttempt } from '../../src/mode.ts';

/** A request sent: the client's view of it (which process serves it, how it ends), and how it ended for the gateway. */
export interface Forwarded {
  response: ClientResponse;
  finished: Promise<ScriptExit>;
  /** What stops it, once known (the gateway gives it when the request streams). */
  signal: AbortSignal | undefined;
}

/**
 * How long the whole-output path waits for a response before it streams: long enough for a
 * worker under load to answer a small page, short beside --timeout, which starts only then.
 */
const WHOLE_WAIT_MS = 50;

export function forward(client: FastCgiClient, request: Omit<CgiRequest, 'signal'>, signal?: AbortSignal): Forwarded {
  // §4.1.2: no CONTENT_LENGTH, no body. Its stream is empty, and STDIN goes out closed at once,
  // in the write that carries the request, rather than after reading nothing from a stream.
  const stdin = request.env.CONTENT_LENGTH === undefined ? Buffer.alloc(0) : request.body;
  const response = client.request({ params: request.env, stdin, signal, onStderr: request.logStderr });
  const sent: Forwarded = { response, finished: undefined!, signal };
  sent.finished = response.ended.then(
    ({ appStatus, protocolStatus }): ScriptExit => {
      if (protocolStatus !== ProtocolStatus.REQUEST_COMPLETE) {
        return { ok: false, reason: `the application refused the request: ${nameOf(ProtocolStatus, protocolStatus)}` };
      }
      return appStatus === 0 ? { ok: true } : { ok: false, reason: `ended with application status ${appStatus}` };
    },
    (error: Error): ScriptExit => ({ ok: false, reason: sent.signal?.aborted ? 'ABORT_REQUEST sent to the application' : error.message }),
  );
  return sent;
}

/** The forwarded request as the gateway streams it, stopped (ABORT_REQUEST) when `signal` fires. */
export function asRun(sent: Forwarded, signal: AbortSignal): ScriptRun {
  const { response, finished } = sent;
  sent.signal = signal;
  response.stopOn(signal);
  return {
    stdout: response.stdout,
    finished,
    get pid() {
      return response.appPid;
    },
  };
}

/** The forwarded request offered whole, or as a stream once that is given up. */
export function asWholeAttempt(sent: Forwarded): WholeAttempt {
  const output = sent.response.whole();
  waiting.push({ response: sent.response, due: performance.now() + WHOLE_WAIT_MS });
  if (!sweeping) {
    sweeping = true;
    setTimeout(sweep, WHOLE_WAIT_MS).unref();
  }
  return {
    output,
    stream: (signal) => asRun(sent, signal),
    get pid() {
      return sent.response.appPid;
    },
  };
}

/**
 * Whole attempts in the order they began, so one timer serves them all: each is told to give up
 * when its time is due (a no-op for those that ended).
 */
let waiting: Array<{ response: ClientResponse; due: number }> = [];
let sweeping = false;

function sweep(): void {
  const now = performance.now();
  let i = 0;
  while (i < waiting.length && waiting[i]!.due <= now) waiting[i++]!.response.giveUpWhole();
  waiting = waiting.slice(i);
  sweeping = waiting.length > 0;
  if (sweeping) setTimeout(sweep, waiting[0]!.due - now).unref();
}
