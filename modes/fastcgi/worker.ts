/**
 * webhist's FastCGI application: what `webhist worker` runs and what the pool's workers are.
 * It accepts on an inherited listening socket (fd 0, FCGI_LISTENSOCK_FILENO, FastCGI §2.2, as
 * spawn-fcgi and our process manager hand it over) or on --listen, and serves each request the
 * way its script needs:
 *
 * - a handler script is imported once and called per request, inside this process, by the kit's
 *   handler runner (src/run/handler.ts): module state persists per worker, and a changed file
 *   is imported again;
 * - a plain CGI program is spawned per request by the kit's program runner (src/run/program.ts),
 *   as fcgiwrap does: CGI behind a socket, so FastCGI buys it nothing, and the benchmark shows
 *   that honestly.
 *
 * The script is the request's SCRIPT_FILENAME, as nginx's fastcgi_param sends it, and must lie
 * inside --cgi-bin: a web server's word is no licence to run /bin/sh.
 */
import { fstatSync } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { basename } from 'node:path';
import { Readable } from 'node:stream';
import { createApp, type AppRequest, type AppResponse } from '../../src/fastcgi/app.ts';
import { netOptions, parseAddress } from '../../src/fastcgi/address.ts';
import { LISTENSOCK_FILENO } from '../../src/fastcgi/protocol.ts';
import { envFromParams, searchArgs } from '../../src/cgi/env.ts';
import { traceWriter } from '../../src/fastcgi/trace.ts';
import { describeScript, ScriptError, type Script } from '../../src/script/describe.ts';
import { listen } from '../../src/io/listen.ts';
import type { CgiRequest, ScriptRun } from '../../src/mode.ts';
import { containFaults, createHandlerRunner } from '../../src/run/handler.ts';
import { ProcessGroups, spawnProgram } from '../../src/run/program.ts';
import { isInside } from '../../src/server/paths.ts';
import { revalidateEvery } from '../../src/server/revalidate.ts';
import type { Logger } from '../../src/server/log.ts';

export interface WorkerOptions {
  cgiBin: string;
  /** unix:PATH or tcp:HOST:PORT; without it, the listening socket on fd 0. */
  listen?: string;
  /** Retire (finish what is in flight, then exit) after this many requests; 0 = never. */
  maxRequests: number;
  /** Answer FCGI_MPXS_CONNS=1 and run several requests on one connection. */
  multiplex: boolean;
  /** FCGI_WEB_SERVER_ADDRS (FastCGI §3.2): only these addresses may connect over TCP. */
  webServerAddrs?: string[];
  /** Print every record, one line each. */
  trace: boolean;
  /** Watch for a handler blocking the event loop (a thread, ~20 MB). A pool's workers need none: its timeout kills them. */
  watchdog: boolean;
  /**
   * Close a connection that has carried no request for this long (0: never). Default: the
   * application side's (src/fastcgi/app-contract.ts). A pool's workers use 0: their socket is
   * the server's alone, and the server keeps its few connections for as long as it likes.
   */
  idleTimeoutMs?: number;
  /**
   * A process manager replaces it if it exits (a pool's worker): a fault no script can be named
   * for then ends it, rather than serving on in a state nobody knows (src/run/handler.ts, containFaults).
   */
  supervised?: boolean;
  /** Told once, when it starts retiring after --max-requests (a pool's manager then starts its replacement). */
  onRetire?: () => void;
  logger: Logger;
}

export interface RunningWorker {
  server: Server;
  /** Where it listens, for people: an address, or "fd 0". */
  where: string;
  close(): Promise<void>;
}

export async function startWorker(options: WorkerOptions): Promise<RunningWorker> {
  const cgiBin = await realpath(options.cgiBin);
  const { logger } = options;
  const handlers = createHandlerRunner({ logger, watchdog: options.watchdog });
  // One worker serves many requests at once: a handler's stray throw must fail its own request only.
  containFaults(logger, options.supervised ? 'exit' : 'serve-on');
  const programs = new ProcessGroups();
  let served = 0;
  let retiring = false;

  /** SCRIPT_FILENAME → the script, checked against the disk at most once a second (as the server does). */
  const findScript = revalidateEvery(1000, async (filename: string): Promise<Script | Refusal> => {
    const file = await realpath(filename).catch(() => undefined);
    if (file === undefined || file === cgiBin || !isInside(cgiBin, file))
      return { status: 404, message: `no script at ${JSON.stringify(filename)} inside this worker's cgi-bin` };
    return describeScript(file, `/cgi-bin/${basename(file)}`).catch((error: Error) => {
      if (error instanceof ScriptError) return { status: 500, message: error.message };
      throw error;
    });
  });

  async function respond(request: AppRequest): Promise<AppResponse> {
    const params = request.params;
    const found = await findScript(params.SCRIPT_FILENAME ?? '');
    if ('status' in found) return refuse(found);
    const name = params.SCRIPT_NAME || found.name;
    const script = name === found.name ? found : { ...found, name };

    const kind = script.kind;
    let stderr: StderrLines | undefined;
    const lines = () => (stderr ??= new StderrLines(name, logger));
    const cgiRequest: Omit<CgiRequest, 'signal'> = {
      script,
      // A handler gets the PARAMS as sent (a fresh object per request): an object it reads, not
      // its process's environment. A program's environment is built as CGI mode builds it: a
      // PARAMS record must not choose its NODE_OPTIONS, LD_PRELOAD or PATH.
      env: kind === 'program' ? envFromParams(params) : params,
      // A program runs here as under CGI, so it gets CGI's §4.4 words too (fcgiwrap gives none).
      args: kind === 'program' ? searchArgs(params.REQUEST_METHOD ?? '', params.QUERY_STRING ?? '') : [],
      body: request.stdin,
      logStderr: (line) => lines().line(line),
    };
    const counted = () => {
      served++;
      if (options.maxRequests && served >= options.maxRequests) retire();
    };
    let run: ScriptRun;
    if (kind === 'handler') {
      // A handler that ends within this turn, having printed little, is answered whole: no
      // stream, no copy, one write (src/mode.ts, WholeAttempt; the gateway does the same in
      // embedded mode).
      const attempt = handlers.tryWhole(cgiRequest);
      const output = await attempt.output;
      if (output && !stderr) {
        counted();
        return { output, appStatus: 0 };
      }
      run = attempt.stream(request.signal);
    } else run = spawnProgram({ ...cgiRequest, signal: request.signal }, programs);
    const errors = lines();
    const finished = run.finished.then((exit) => {
      errors.end(exit.ok ? undefined : `${name}: ${exit.reason}`);
      counted();
      return exit.ok ? 0 : 1;
    });
    return { stdout: run.stdout, stderr: errors.stream, finished };
  }

  const app = createApp(respond, {
    multiplex: options.multiplex,
    idleTimeoutMs: options.idleTimeoutMs,
    webServerAddrs: options.webServerAddrs,
    onRecord: options.trace ? traceWriter((text) => process.stderr.write(text)) : undefined,
    // A web server dropping a connection (its client left) is routine, not a warning.
    log: (message) => logger.error('info', 'worker', message),
  });
  const server = createServer({ allowHalfOpen: true }, app.serve);
  server.on('error', (error) => logger.error('error', 'worker', error.message));

  let where: string;
  if (options.listen) {
    where = options.listen;
    await listen(server, netOptions(parseAddress(options.listen)));
  } else if (fstatSync(LISTENSOCK_FILENO).isSocket()) {
    where = 'the listening socket on fd 0';
    await listen(server, { fd: LISTENSOCK_FILENO });
  } else {
    throw new ScriptError('no --listen given, and fd 0 is not a listening socket (start it with --listen, or under spawn-fcgi or a pool)');
  }

  /**
   * Past --max-requests: accept nothing more, finish what is in flight, then exit cleanly, which
   * is how a pool's manager tells a retiree from a crash (as with PHP_FCGI_MAX_REQUESTS).
   */
  function retire(): void {
    if (retiring) return;
    retiring = true;
    options.onRetire?.();
    // The server's kept connections would otherwise bring more requests: app.close() lets those
    // in flight finish, closes idle connections, and refuses what comes meanwhile (OVERLOADED),
    // which the server's client retries on a fresh connection, to another worker.
    server.close();
    void app.close().then(() => process.exit(0));
  }

  return {
    server,
    where,
    async close() {
      server.close();
      await app.close();
      programs.killAll();
      await handlers.close();
    },
  };
}

/** Why the worker will not run what a request names. */
interface Refusal {
  status: number;
  message: string;
}

/** A refusal from the worker itself, as CGI output, so the web server passes it on as it is. */
function refuse({ status, message }: Refusal): AppResponse {
  const body = `${status}: ${message}\n`;
  return {
    stdout: Readable.from([`Status: ${status}\r\nContent-Type: text/plain\r\n\r\n${body}`]),
    stderr: Readable.from([body]),
    finished: Promise.resolve(0),
  };
}

/** What a script's stderr may hold in this worker while the web server does not read it. */
const STDERR_KEPT_BYTES = 256 * 1024;

/**
 * A script's stderr lines on their way to FCGI_STDERR. A program's stderr is read as fast as it
 * comes (the program runner logs it line by line), but the records go out only as fast as the
 * web server reads them: with a stalled web server, a program printing errors in a loop would
 * grow the worker without bound. Past STDERR_KEPT_BYTES unsent, lines are dropped and counted,
 * and one line says how many, once there is room again (and in the worker's own log).
 */
class StderrLines {
  /** A bare Readable, not a PassThrough: one per request. */
  readonly stream = new Readable({ read: () => this.#flushDropped() });
  #dropped = 0;
  #script: string;
  #logger: Logger;

  constructor(script: string, logger: Logger) {
    this.#script = script;
    this.#logger = logger;
  }

  line(text: string): void {
    if (this.stream.destroyed || this.stream.readableEnded) return;
    if (this.stream.readableLength >= STDERR_KEPT_BYTES) {
      if (this.#dropped++ === 0)
        this.#logger.error('warn', this.#script, `the web server is not reading its stderr: lines past ${STDERR_KEPT_BYTES / 1024} KiB unsent are dropped`);
      return;
    }
    this.#flushDropped();
    this.stream.push(`${text}\n`);
  }

  /** The last line, if any, and the end of the stream. */
  end(last?: string): void {
    if (this.stream.destroyed || this.stream.readableEnded) return;
    this.#flushDropped();
    if (last !== undefined) this.stream.push(`${last}\n`);
    this.stream.push(null);
  }

  #flushDropped(): void {
    if (this.#dropped === 0 || this.stream.readableEnded) return;
    this.stream.push(`${this.#script}: ${this.#dropped} stderr line(s) dropped: the web server was not reading them\n`);
    this.#dropped = 0;
  }
}
