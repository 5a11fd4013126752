/**
 * The gateway: an HTTP request for /cgi-bin/... becomes a CgiRequest, the mode runs it, and
 * what the script printed becomes the HTTP response (RFC 3875 §6). This is the part every mode
 * shares, so the three modes cannot differ in what they send the client.
 */
import { STATUS_CODES } from 'node:http';
import type { Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { buildEnv, searchArgs } from '../cgi/env.ts';
import { CgiOutputError, planResponse, readCgiHead } from '../cgi/response.ts';
import { RequestCut, type ScriptRun } from '../mode.ts';
import type { Script } from '../script/describe.ts';
import { answer, type Exchange } from './exchange.ts';
import type { ServerOptions } from './index.ts';
import type { ScriptLocation } from './paths.ts';
import { noBody, takeBody } from './request-body.ts';

/** What the gateway needs of the server's options, and a way back into the server. */
export interface GatewayOptions
  extends Pick<ServerOptions, 'mode' | 'cgiBin' | 'docroot' | 'timeoutMs' | 'maxConcurrency' | 'maxBody' | 'passAuthorization' | 'logger'> {
  serverSoftware: string;
  /** Re-dispatches a local redirect (RFC 3875 §6.2.2) through the whole server. */
  redispatch(ex: Exchange): Promise<void>;
}

/** What the front found for a /cgi-bin/ path: where the script is, and what it is (or why it cannot run). */
export interface FoundScript {
  location: ScriptLocation;
  script: Script | Error;
}

/** Local redirects followed for one request before the server calls it a loop (Apache stops at 10). */
const maxRedirects = 10;


export function createGateway(options: GatewayOptions) {
  const { mode, logger } = options;
  let running = 0;

  async function serve(ex: Exchange, { location, script }: FoundScript): Promise<void> {
    const name = `/cgi-bin${location.scriptPath}`;
    if (running >= options.maxConcurrency) {
      logger.error('warn', name, `refused: ${running} scripts running, the --max-concurrency limit`);
      return answer(ex, 503, 'Service Unavailable: too many scripts running, try again shortly', { 'Retry-After': '1' });
    }
    if (script instanceof Error) {
      logger.error('error', name, script.message);
      return answer(ex, 500, 'Internal Server Error: the script cannot be run (see the error log)');
    }
    // The slot is taken before anything awaits, and given back once the script has ended.
    running++;
    let redirect: string | undefined;
    try {
      redirect = await start(ex, location, script, name);
    } finally {
      running--;
    }
    // RFC 3875 §6.2.2: the server answers the new location itself, once the first script is done
    // (unless the client has gone meanwhile: then there is no one to answer).
    if (redirect !== undefined && !ex.res.destroyed) {
      const q = redirect.indexOf('?');
      const rawPath = q < 0 ? redirect : redirect.slice(0, q);
      await options.redispatch({ ...ex, method: 'GET', target: redirect, rawPath, query: q < 0 ? '' : redirect.slice(q + 1), redirects: ex.redirects + 1 });
    }
  }

  /**
   * Runs the script and sends its response; returns once the script has ended, with the location
   * of a local redirect if that is what it asked for.
   */
  async function start(ex: Exchange, location: ScriptLocation, script: Script, name: string): Promise<string | undefined> {
    const refusal = mode.refuses?.(script);
    if (refusal) {
      logger.error('error', name, refusal);
      return void answer(ex, 500, `Internal Server Error: ${refusal}`);
    }
    const body = ex.redirects ? noBody() : await takeBody(ex.req, options.maxBody);
    if (!body.ok) {
      logger.error('warn', name, body.message);
      return void answer(ex, body.status, `${STATUS_CODES[body.status]}: ${body.message}`, { Connection: 'close' });
    }

    const { req, res } = ex;
    const env = buildEnv({
      method: ex.method,
      requestUri: ex.target,
      query: ex.query,
      headers: ex.redirects ? withoutBodyHeaders(req.headersDistinct) : req.headersDistinct,
      httpVersion: req.httpVersion,
      scriptName: name,
      scriptFilename: location.file,
      pathInfo: location.pathInfo,
      documentRoot: options.docroot,
      remoteAddress: req.socket.remoteAddress ?? '',
      remotePort: req.socket.remotePort ?? 0,
      serverAddress: req.socket.localAddress ?? '',
      serverPort: req.socket.localPort ?? 0,
      contentLength: body.length,
      passAuthorization: options.passAuthorization,
      serverSoftware: options.serverSoftware,
    });

    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new RequestCut(`timed out after ${options.timeoutMs / 1000}s`, true)), options.timeoutMs);
    const onClose = () => res.writableFinished || controller.abort(new RequestCut('the client went away', false));
    res.once('close', onClose);

    const run = mode.run({
      script,
      env,
      args: script.kind === 'program' ? searchArgs(ex.method, ex.query) : [],
      body: body.body,
      signal: controller.signal,
      logStderr: (line) => logger.error('stderr', name, line),
    });
    const done = () => {
      clearTimeout(timer);
      res.off('close', onClose);
    };

    let redirect: string | undefined;
    try {
      if (script.nph) await sendNph(ex, run, controller.signal);
      else redirect = await sendParsed(ex, run, controller, name);
      if (redirect !== undefined) {
        // As Apache's mod_cgi does: read a redirecting script's output to its end (the time
        // limit still holding), discard it, and stop whatever the script still runs after that.
        await finished(run.stdout).catch(() => {});
        controller.abort(new Error('a local redirect was followed'));
        await run.finished;
      }
    } finally {
      done();
    }
    const exit = await run.finished;
    // A script that left part of the body unread (it had no use for it): the rest is read and
    // discarded, bounded by --max-body, or the next request on this connection would never be parsed.
    // A 'data' listener, not just resume(): resume() does nothing while a reader that stopped
    // early (a handler's async iterator over stdin) still listens for 'readable'; once it lets go, 'data' flows.
    if (body.body === req && !req.readableEnded) {
      req.unpipe();
      req.on('data', () => {});
      req.resume();
    }
    const { reason } = controller.signal;
    // The mode says what stopping it meant: a killed process group, or an abandoned handler.
    if (reason instanceof RequestCut) logger.error('error', name, `${reason.message}: ${exit.ok ? 'the script was stopped' : exit.reason}`);
    else if (!exit.ok && script.nph) logger.error('error', name, exit.reason);
    return redirect;
  }

  /** Sends a parsed CGI response; returns the location of a local redirect instead of sending one. */
  async function sendParsed(ex: Exchange, run: ScriptRun, controller: AbortController, name: string): Promise<string | undefined> {
    const { signal } = controller;
    let plan;
    try {
      plan = planResponse(await readCgiHead(run.stdout));
    } catch (error) {
      if (!(error instanceof CgiOutputError)) throw error;
      if (signal.aborted) {
        if (signal.reason instanceof RequestCut && !ex.res.destroyed) answer(ex, 504, `Gateway Timeout: the script did not answer in time`);
        return;
      }
      // Still writing, and nobody will read the rest: stop the script now, not at the timeout.
      if (!run.stdout.readableEnded) controller.abort(error);
      const exit = await run.finished;
      if (!exit.ok && exit.serverFault) {
        logger.error('error', name, exit.reason);
        return void answer(ex, 500, 'Internal Server Error: the script failed before it printed anything (see the error log)');
      }
      logger.error('error', name, `bad gateway: ${error.message}${exit.ok || signal.aborted ? '' : ` (the script ${exit.reason})`}`);
      return void answer(ex, 502, 'Bad Gateway: the script did not print a valid CGI response (see the error log)');
    }

    if (plan.kind === 'local-redirect') {
      run.stdout.resume();
      if (ex.redirects < maxRedirects) return plan.location;
      logger.error('error', name, `more than ${maxRedirects} local redirects: a loop?`);
      return void answer(ex, 500, 'Internal Server Error: too many local redirects');
    }

    const { res } = ex;
    const declared = plan.headers.find(([field]) => field.toLowerCase() === 'content-length')?.[1];
    if (declared !== undefined && !/^\d{1,15}$/.test(declared.trim())) {
      controller.abort(new CgiOutputError(`invalid Content-Length ${JSON.stringify(declared)}`));
      logger.error('error', name, `bad gateway: the script printed an invalid Content-Length: ${JSON.stringify(declared)}`);
      return void answer(ex, 502, 'Bad Gateway: the script did not print a valid CGI response (see the error log)');
    }
    const limit = declared === undefined ? Infinity : Number(declared);
    res.statusCode = plan.status;
    res.statusMessage = plan.reason;
    for (const [field, value] of plan.headers) res.appendHeader(field, value);
    // Until the next turn of the event loop, writes gather: a short response (headers, body,
    // last chunk) leaves in one writev instead of three; end() uncorks at once.
    res.cork();
    setImmediate(() => res.writableCorked && res.uncork());
    const copied = await copy(run.stdout, res, signal, limit);
    ex.logged.bytes = copied.bytes;
    // The script's Content-Length frames the response on a kept-alive connection: more bytes
    // would become the start of the next response (splitting it), fewer would leave the client
    // waiting. Either way the connection is closed after what was promised, as nginx does.
    const framing = copied.overflow
      ? `printed more than its Content-Length (${limit} bytes)`
      : limit !== Infinity && copied.bytes < limit && !signal.aborted
        ? `ended short of its Content-Length (${copied.bytes} of ${limit} bytes)`
        : undefined;
    if (copied.overflow) controller.abort(new CgiOutputError(framing));
    const exit = await run.finished;
    if (exit.ok && !signal.aborted && !framing) return void res.end();
    // A script that fails after its headers went out: closing without the final chunk (or short
    // of Content-Length) is the only way left to tell the client the body is incomplete.
    if (framing) logger.error('error', name, `${framing}: the connection was closed after the bytes it promised`);
    else if (!exit.ok && !signal.aborted) logger.error('error', name, `${exit.reason} after its response began: the response was cut short`);
    // What was written still goes out (it may sit in the cork); then the connection closes.
    while (res.writableCorked) res.uncork();
    res.socket?.destroySoon();
  }

  /** NPH (RFC 3875 §5): the script's bytes are the whole HTTP response, sent unmodified. */
  async function sendNph(ex: Exchange, run: ScriptRun, signal: AbortSignal): Promise<void> {
    const socket = ex.req.socket;
    run.stdout.once('data', (first: Buffer) => {
      const status = /^HTTP\/\d\.\d (\d{3})/.exec(first.toString('latin1', 0, 16));
      ex.logged.status = status ? Number(status[1]) : undefined;
    });
    ex.logged.bytes = (await copy(run.stdout, socket, signal)).bytes;
    const exit = await run.finished;
    // The script framed the response itself, so only closing the connection can end it.
    if (exit.ok && !signal.aborted) socket.end();
    else socket.destroy();
  }

  return {
    serve,
    get running() {
      return running;
    },
  };
}

/**
 * Copies with backpressure: a slow client pauses the script's output, nothing is buffered
 * whole. Stops at `limit` bytes (a declared Content-Length), noting an overflow. Resolves once
 * the output ends or is torn down (the script was killed: the caller decides what the client
 * sees), or the client goes away.
 */
function copy(from: Readable, to: Writable, signal: AbortSignal, limit = Infinity): Promise<{ bytes: number; overflow: boolean }> {
  return new Promise((resolve) => {
    let bytes = 0;
    let overflow = false;
    const onData = (chunk: Buffer) => {
      if (chunk.length > limit - bytes) {
        to.write(chunk.subarray(0, limit - bytes));
        bytes = limit;
        overflow = true;
        return done();
      }
      bytes += chunk.length;
      if (!to.write(chunk)) from.pause();
    };
    const onDrain = () => from.resume();
    const done = () => {
      from.off('data', onData).off('end', done).off('close', done).off('error', done);
      to.off('drain', onDrain).off('close', done);
      signal.removeEventListener('abort', done);
      resolve({ bytes, overflow });
    };
    // Output that ended with its headers (a redirect) has nothing more to give.
    if (from.readableEnded || from.destroyed) return resolve({ bytes, overflow });
    from.on('data', onData).once('end', done).once('close', done).once('error', done);
    to.on('drain', onDrain).once('close', done);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** A local redirect is a GET of the new location: the original body's headers do not apply. */
function withoutBodyHeaders(headers: Record<string, string[] | undefined>): Record<string, string[] | undefined> {
  const { 'content-length': _length, 'content-type': _type, 'transfer-encoding': _te, ...rest } = headers;
  return rest;
}
