/**
 * The gateway (RFC 3875 §6): an HTTP request for /cgi-bin/... becomes a CgiRequest, the mode
 * runs it, and what the script printed becomes the HTTP response. Every mode shares this part,
 * so the three cannot differ in what they send the client.
 *
 * serve() tells one request top to bottom, as Go's net/http/cgi Handler.ServeHTTP does: admit
 * it, answer it whole if its output comes whole (./output.ts), else start the clock, take the
 * body, build the environment, run the script, judge its head, stream its body, wait for it to
 * end, log what went wrong. Where the request stands is one
 * value, `phase`; every reason to stop a script early is a StopReason (src/mode.ts), worded
 * once in stopMessages below.
 */
import { STATUS_CODES } from 'node:http';
import { finished } from 'node:stream/promises';
import { buildEnv, searchArgs } from '../cgi/env.ts';
import { CgiOutputError, planResponse, readCgiHead, type ResponsePlan } from '../cgi/response.ts';
import { RequestCut, type CgiRequest, type Mode, type ScriptExit, type ScriptRun, type StopReason, type WholeAttempt } from '../mode.ts';
import type { Script } from '../script/describe.ts';
import { requestRuns } from '../live-events.ts';
import { localRedirect, replyText, type Exchange } from './exchange.ts';
import type { Logger } from './log.ts';
import type { ScriptLocation } from './paths.ts';
import { copy, discard, exitWithEofMs, exitWithin, sendWhole } from './output.ts';
import { announcesBody, bodyOverdue, drainUnreadBody, noBody, type ReceivedBody, takeBody } from './request-body.ts';

export interface GatewayOptions {
  mode: Mode;
  /** The directory scripts run from (the front resolves it to its real path first). */
  cgiBin: string;
  /** The docroot: DOCUMENT_ROOT, and PATH_TRANSLATED's base. */
  docroot: string;
  /**
   * How long a request may take to get its response head (RFC 3875 leaves it to the server):
   * its body arriving, then its script until the head; then 408 (the body was late) or 504.
   */
  timeoutMs: number;
  /**
   * Once the head is sent: the longest a script may go without writing (nginx's
   * fastcgi_read_timeout), so a stream lives as long as it keeps talking.
   */
  idleTimeoutMs: number;
  /** Scripts running at once; past it, 503 with Retry-After. */
  maxConcurrency: number;
  /** The largest request body taken, in bytes; past it, 413. */
  maxBody: number;
  /** Pass the Authorization header on as HTTP_AUTHORIZATION (RFC 3875 §4.1.18 says not to). */
  passAuthorization: boolean;
  logger: Logger;
  serverSoftware: string;
  /** Serves a local redirect (RFC 3875 §6.2.2) through the whole server, static files included. */
  redispatch(ex: Exchange): Promise<void>;
}

/** What the front found for a /cgi-bin/ path: where the script is, and what it is (or why it cannot run). */
export interface FoundScript {
  location: ScriptLocation;
  script: Script | Error;
}

/**
 * Where one request stands. It only moves forward:
 * waiting → streaming → complete, or → cut; waiting → answered or redirecting.
 */
type Phase =
  /** The script runs; nothing has been sent. */
  | { at: 'waiting' }
  /** The head is sent; the body is being copied. */
  | { at: 'streaming' }
  /** The client has its whole response. The script may still be running: a client that leaves now has not gone away. */
  | { at: 'complete' }
  /** The server answered for the script (500, 502, 504), or there is no one left to answer. */
  | { at: 'answered' }
  /** The response began and cannot be finished: the connection is closed to say so. */
  | { at: 'cut' }
  /** A local redirect: `next`, a fresh GET, is served once this script has ended. */
  | { at: 'redirecting'; next: Exchange };

/** Local redirects followed for one request before the server calls it a loop (Apache stops at 10). */
const maxRedirects = 10;

export function createGateway(options: GatewayOptions) {
  const { mode, logger } = options;
  let running = 0;
  /** Every reason to stop a script early, with what the error log says, unless the moment has better words. */
  const stopMessages: Record<StopReason, string> = {
    timeout: `timed out after ${options.timeoutMs / 1000}s without a response head (--timeout)`,
    'client-gone': 'the client went away',
    'bad-output': 'its output is not a valid CGI response',
    redirected: 'a local redirect was followed',
  };

  async function serve(ex: Exchange, { location, script }: FoundScript): Promise<void> {
    const name = `/cgi-bin${location.scriptPath}`;
    const { req, res } = ex;
    // A client that left while its script was looked up: nobody to answer, nothing to run.
    if (res.destroyed) return;
    // 1. Admission: a bound on scripts at once, and only scripts this mode can run.
    if (running >= options.maxConcurrency) {
      logger.error('warn', name, `refused: ${running} scripts running, the --max-concurrency limit`);
      return replyText(ex, 503, 'Service Unavailable: too many scripts running, try again shortly', { 'Retry-After': '1' });
    }
    if (script instanceof Error) {
      logger.error('error', name, script.message);
      return replyText(ex, 500, 'Internal Server Error: the script cannot be run (see the error log)');
    }
    const refusal = mode.refuses?.(script);
    if (refusal) {
      logger.error('error', name, refusal);
      return replyText(ex, 500, `Internal Server Error: ${refusal}`);
    }

    // The slot is taken before anything awaits, and given back once the script has ended.
    running++;
    let phase: Phase;
    try {
      // 2. The whole-output path, where the mode offers one and the request has no body to wait
      // for: a small output that comes whole is answered in one piece, before any clock or close
      // listener is set up. The attempt is short: within this turn of the event loop for a handler
      // (no timer can fire in it), at most 50 ms for a FastCGI worker; --timeout starts that much
      // late, and a client that left meanwhile is noticed once it does. Anything else, and anything
      // unusual in that output, takes the general path below, which starts the clock then.
      const bodyless = ex.redirects > 0 || !announcesBody(req);
      if (bodyless && mode.tryWhole && !script.nph) {
        const request = scriptRequest(ex, name, location, script, noBody());
        const attempt = mode.tryWhole(request);
        const whole = await attempt.output;
        if (whole && sendWhole(ex, whole)) {
          requestRuns(ex.live, name, attempt);
          return;
        }
        phase = await respond(ex, name, script, { request, attempt });
      } else phase = await respond(ex, name, script, { location });
    } finally {
      running--;
    }

    // 9. RFC 3875 §6.2.2: the server answers the new location itself, once the first script is
    // done (unless the client has gone meanwhile: then there is no one to answer).
    if (phase.at === 'redirecting' && !ex.res.destroyed) await options.redispatch(phase.next);
  }

  /** The request as the mode runs it; the signal is added once the clock has started. */
  function scriptRequest(ex: Exchange, name: string, location: ScriptLocation, script: Script, body: ReceivedBody) {
    const { req } = ex;
    return {
      script,
      env: requestEnv(options, { ...ex, rawHeaders: ex.redirects ? withoutBodyHeaders(req.rawHeaders) : req.rawHeaders }, location, body.length),
      args: script.kind === 'program' ? searchArgs(ex.method, ex.query) : [],
      body: body.body,
      logStderr: (line: string) => logger.error('stderr', name, line),
    };
  }

  /**
   * The general path: the clock and the client watched from here on, the body taken (unless the
   * whole-output path started the script already, for a request without one: `start` then holds
   * its request and attempt), the script run as a stream, its head judged and its body copied.
   * Returns where the request ended up.
   */
  async function respond(
    ex: Exchange,
    name: string,
    script: Script,
    start: { location: ScriptLocation } | { request: Omit<CgiRequest, 'signal'>; attempt: WholeAttempt },
  ): Promise<Phase> {
    const { req, res } = ex;
    let phase: Phase = { at: 'waiting' };
    // The clock and the client, from here on: a trickled upload counts against --timeout
    // (answered 408), and a client that leaves while its body is read stops everything at once.
    const controller = new AbortController();
    const { signal } = controller;
    const stopScript = (why: StopReason, message = stopMessages[why]) => signal.aborted || controller.abort(new RequestCut(why, message));
    let receiving = !('request' in start);
    /** Set when the time ran out on the client's body rather than on the script: 408, not 504. */
    let lateBody = false;
    let timer = setTimeout(() => {
      lateBody = receiving || bodyOverdue(req);
      stopScript('timeout', lateBody ? `the request body did not all arrive within ${options.timeoutMs / 1000}s (--timeout)` : undefined);
    }, options.timeoutMs);
    /**
     * Once the head is sent, --timeout is done and --idle-timeout counts from each byte written,
     * so a stream (SSE, server push, a long poll that answered) lives as long as it talks.
     */
    let idle = false;
    const wrote = () => {
      if (idle) return void timer.refresh();
      idle = true;
      clearTimeout(timer);
      timer = setTimeout(() => stopScript('timeout', `wrote nothing for ${options.idleTimeoutMs / 1000}s (--idle-timeout)`), options.idleTimeoutMs);
    };
    // A client that leaves before it has its whole response has gone away; one that has it has not.
    const onClose = () => phase.at === 'complete' || res.writableFinished || stopScript('client-gone');
    res.once('close', onClose);
    // One that left while the whole-output path waited for its script has gone already.
    if (res.destroyed) onClose();
    const release = () => {
      clearTimeout(timer);
      res.off('close', onClose);
    };
    try {
      // 3. The body: exactly CONTENT_LENGTH bytes (a local redirect is a GET and has none).
      let request: Omit<CgiRequest, 'signal'>;
      let attempt: WholeAttempt | undefined;
      if ('request' in start) ({ request, attempt } = start);
      else {
        const body = ex.redirects ? noBody() : await takeBody(req, options.maxBody, signal);
        receiving = false;
        if (!body.ok) {
          release();
          if (res.destroyed) return { at: 'answered' };
          logger.error('warn', name, body.message);
          replyText(ex, body.status, `${STATUS_CODES[body.status]}: ${body.message}`, { Connection: 'close' });
          return { at: 'answered' };
        }
        request = scriptRequest(ex, name, start.location, script, body);

        // 4. The whole-output path for a request with a body, once it is in hand (see serve()).
        const whole = script.nph ? undefined : mode.tryWhole?.(request);
        const output = whole && (await whole.output);
        if (output && sendWhole(ex, output)) {
          release();
          requestRuns(ex.live, name, whole);
          drainUnreadBody(req, request.body);
          return { at: 'complete' };
        }
        attempt = whole;
      }
      const body = request.body;

      // 5. The run: the mode turns the request into CGI output bytes.
      const run = attempt ? attempt.stream(signal) : mode.run({ ...request, signal });
      requestRuns(ex.live, name, run, signal);

      let exit: ScriptExit;
      try {
        if (script.nph) {
          // NPH (RFC 3875 §5): the script's bytes are the whole HTTP response, sent unmodified.
          phase = await relayNph(ex, run, signal, wrote);
          exit = await run.finished;
        } else {
          // 6. The head (§6.2): a document, a redirect, or output that is no CGI response.
          let plan: ResponsePlan | CgiOutputError;
          try {
            plan = planResponse(await readCgiHead(run.stdout));
          } catch (error) {
            if (!(error instanceof CgiOutputError)) throw error;
            plan = error;
          }

          if (plan instanceof CgiOutputError) {
            if (signal.aborted) {
              if (signal.reason instanceof RequestCut && signal.reason.why === 'timeout' && !res.destroyed) {
                if (lateBody) replyText(ex, 408, 'Request Timeout: the request body did not arrive in time', { Connection: 'close' });
                else replyText(ex, 504, 'Gateway Timeout: the script did not answer in time');
              }
              exit = await run.finished;
            } else {
              // Still writing, and nobody will read the rest: stop the script now, not at the timeout,
              // and drop what it still sends, so its output can reach its end.
              if (!run.stdout.readableEnded) stopScript('bad-output', plan.message);
              run.stdout.resume();
              exit = await run.finished;
              if (!exit.ok && exit.serverFault) {
                logger.error('error', name, exit.reason);
                replyText(ex, 500, 'Internal Server Error: the script failed before it printed anything (see the error log)');
              } else {
                logger.error('error', name, `bad gateway: ${plan.message}${exit.ok || signal.aborted ? '' : ` (the script ${exit.reason})`}`);
                replyText(ex, 502, 'Bad Gateway: the script did not print a valid CGI response (see the error log)');
              }
            }
            phase = { at: 'answered' };
          } else if (plan.kind === 'local-redirect') {
            run.stdout.resume();
            if (ex.redirects < maxRedirects) {
              phase = { at: 'redirecting', next: localRedirect(ex, plan.location) };
              // As Apache's mod_cgi does: read a redirecting script's output to its end (the time
              // limit still holding), discard it, and stop whatever the script still runs after that.
              await finished(run.stdout).catch(() => {});
              stopScript('redirected');
            } else {
              logger.error('error', name, `more than ${maxRedirects} local redirects: a loop?`);
              replyText(ex, 500, 'Internal Server Error: too many local redirects');
              phase = { at: 'answered' };
            }
            exit = await run.finished;
          } else {
            // 7. The body, streamed: a document or a client redirect with its document.
            res.statusCode = plan.status;
            res.statusMessage = plan.reason;
            for (const [field, value] of plan.headers) res.appendHeader(field, value);
            // Until the next turn of the event loop, writes gather: a short response (headers, body,
            // last chunk) leaves in one writev instead of three; end() uncorks at once.
            res.cork();
            setImmediate(() => res.writableCorked && res.uncork());
            phase = { at: 'streaming' };
            wrote();
            const limit = plan.contentLength ?? Infinity;
            const copied = await copy(run.stdout, res, signal, limit, wrote);
            ex.logged.bytes = copied.bytes;

            // The script's Content-Length frames the response on a kept-alive connection: once it is
            // sent, the response is complete, whatever the script still does (within its time).
            // More bytes would become the start of the next response (splitting it); fewer would
            // leave the client waiting. Either way the connection closes after what was promised,
            // as nginx does.
            let framing: string | undefined;
            if (copied.overflow) framing = `printed more than its Content-Length (${limit} bytes)`;
            else if (copied.bytes === limit) {
              phase = { at: 'complete' };
              res.end();
              const extra = await discard(run.stdout, signal);
              if (extra > 0) {
                stopScript('bad-output', `printed more than its Content-Length (${limit} bytes)`);
                logger.error('error', name, `printed more than its Content-Length (${limit} bytes): the ${extra} bytes after it were dropped`);
              }
            } else if (limit !== Infinity && !signal.aborted) {
              framing = `ended short of its Content-Length (${copied.bytes} of ${limit} bytes)`;
            }
            if (framing) stopScript('bad-output', framing);
            // End of file on stdout: the script has said all it will. As Apache's mod_cgi does, the
            // response ends there, and a script that goes on working (it closed stdout) does so within
            // its limit. An exit that comes with the end of file still tells a finish from a crash.
            if (phase.at === 'streaming' && copied.ended && !framing && !signal.aborted && !(await exitWithin(run, exitWithEofMs))) {
              phase = { at: 'complete' };
              res.end();
            }
            exit = await run.finished;

            if (phase.at === 'complete') {
              if (!exit.ok && !signal.aborted) logger.error('warn', name, `${exit.reason} after its whole response was sent`);
            } else if (!framing && exit.ok && !signal.aborted) {
              phase = { at: 'complete' };
              // Node's end() writes the last chunk before the chunks the cork still holds (several
              // chunks copied within one turn: STDOUT records read in one piece), so they go first,
              // under a socket cork that end() lifts: still one write.
              res.socket?.cork();
              while (res.writableCorked) res.uncork();
              res.end();
            } else {
              // A script that fails after its headers went out: closing without the final chunk (or
              // short of Content-Length) is the only way left to tell the client the body is incomplete.
              if (framing) logger.error('error', name, `${framing}: the connection was closed after the bytes it promised`);
              else if (!exit.ok && !signal.aborted) logger.error('error', name, `${exit.reason} after its response began: the response was cut short`);
              phase = { at: 'cut' };
              // What was written still goes out (it may sit in the cork); then the connection closes.
              while (res.writableCorked) res.uncork();
              res.socket?.destroySoon();
            }
          }
        }
      } finally {
        release();
      }

      drainUnreadBody(req, body);

      // 8. The error log: a script stopped by the clock or a departed client, and how the mode
      // stopped it (a killed process group, an abandoned handler).
      const { reason } = signal;
      if (reason instanceof RequestCut && (reason.why === 'timeout' || reason.why === 'client-gone')) {
        logger.error('error', name, `${reason.message}: ${exit.ok ? 'the script was stopped' : exit.reason}`);
      } else if (!exit.ok && script.nph) logger.error('error', name, exit.reason);
      return phase;
    } finally {
      release();
    }
  }

  return {
    serve,
    get running() {
      return running;
    },
    /** Takes a slot for a script run outside serve() (a WebSocket's): false past --max-concurrency. */
    takeSlot(): boolean {
      if (running >= options.maxConcurrency) return false;
      running++;
      return true;
    },
    giveSlot(): void {
      running--;
    },
  };
}

/** NPH: copies the script's bytes to the socket; only closing the connection can end them. */
async function relayNph(ex: Exchange, run: ScriptRun, signal: AbortSignal, wrote: () => void): Promise<Phase> {
  const socket = ex.req.socket;
  run.stdout.once('data', (first: Buffer) => {
    const status = /^HTTP\/\d\.\d (\d{3})/.exec(first.toString('latin1', 0, 16));
    ex.logged.status = status ? Number(status[1]) : undefined;
  });
  const copied = await copy(run.stdout, socket, signal, Infinity, wrote);
  ex.logged.bytes = copied.bytes;
  // As for a parsed response: the end of its stdout ends it, unless the exit that comes with it failed.
  const ended = copied.ended && !signal.aborted && !(await exitWithin(run, exitWithEofMs));
  if (ended || ((await run.finished).ok && !signal.aborted)) {
    socket.end();
    return { at: 'complete' };
  }
  socket.destroy();
  return { at: 'cut' };
}

/**
 * The environment a script sees for a request (RFC 3875 §4.1, src/cgi/env.ts): the gateway's,
 * and a WebSocket handshake's (src/server/websocket.ts), which has no body.
 */
export function requestEnv(
  options: Pick<GatewayOptions, 'docroot' | 'passAuthorization' | 'serverSoftware'>,
  request: Pick<Exchange, 'req' | 'method' | 'target' | 'query'> & { rawHeaders: readonly string[] },
  location: ScriptLocation,
  contentLength?: number,
): Record<string, string> {
  const { socket, httpVersion } = request.req;
  return buildEnv({
    method: request.method,
    requestUri: request.target,
    query: request.query,
    rawHeaders: request.rawHeaders,
    httpVersion,
    scriptName: `/cgi-bin${location.scriptPath}`,
    scriptFilename: location.file,
    pathInfo: location.pathInfo,
    documentRoot: options.docroot,
    remoteAddress: socket.remoteAddress ?? '',
    remotePort: socket.remotePort ?? 0,
    serverAddress: socket.localAddress ?? '',
    serverPort: socket.localPort ?? 0,
    contentLength,
    passAuthorization: options.passAuthorization,
    serverSoftware: options.serverSoftware,
  });
}

/** A local redirect is a GET of the new location: the original body's headers do not apply. */
function withoutBodyHeaders(rawHeaders: readonly string[]): string[] {
  const kept: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    if (!bodyHeaders.has(name.toLowerCase())) kept.push(name, rawHeaders[i + 1] as string);
  }
  return kept;
}
const bodyHeaders = new Set(['content-length', 'content-type', 'transfer-encoding']);
