/**
 * A pool of FastCGI workers, seen from the server: a listening unix socket in a private
 * directory, a process manager (manager.ts) that holds it as fd 0 and keeps workers on it, and
 * a FastCGI client (src/fastcgi/client.ts) that sends requests to whichever worker accepts.
 *
 * The socket is made here and passed on, because Node cannot hold a listening socket without
 * accepting on it itself: once the manager has its copy, ours is closed. libuv unlinks a unix
 * socket's path when its server closes, so the path is renamed first, and the socket lives on
 * under the new name in the manager and its workers.
 *
 * Our own workers tell their pid on each connection (PID_VALUE), so the pool knows which worker
 * serves which request without a word from the manager: that is what the status page shows, and
 * whom it has the manager kill when a handler overruns its time or a worker writes garbage.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rename, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FastCgiClient } from '../../src/fastcgi/client.ts';
import { listen } from '../../src/io/listen.ts';
import { FastCgiProtocolError } from '../../src/fastcgi/protocol.ts';
import { traceWriter, type TraceRecord } from '../../src/fastcgi/trace.ts';
import { RequestCut, type CgiRequest, type ScriptRun, type WholeAttempt } from '../../src/mode.ts';
import { processExited, processStarted } from '../../src/live-events.ts';
import type { Logger } from '../../src/server/log.ts';
import type { FromManager, ManagerConfig, PmPolicy, ToManager, WorkerInfo, WorkerProcess } from './messages.ts';
import { asRun, asWholeAttempt, forward, type Forwarded } from './forward.ts';

const managerFile = fileURLToPath(new URL(`./manager${extname(import.meta.url)}`, import.meta.url));

/** How long after demand falls the manager hears of it (pm dynamic, ondemand). */
const SETTLE_MS = 250;

/**
 * How long a worker has to answer ABORT_REQUEST (with END_REQUEST) for a handler past its time
 * before it is killed. A worker whose event loop runs answers at once: the handler is abandoned
 * with its stdout closed, and the worker's other requests go on. One that cannot answer is stuck
 * in a handler that never yields, and so are all its requests.
 */
const ABORT_ANSWER_MS = 2000;

/** The longest wait before a process manager that keeps dying is started again. */
const MANAGER_BACKOFF_MAX_MS = 10_000;

export interface PoolOptions extends Omit<ManagerConfig, 'killAfterMs'> {
  /** How the pool is named in logs and on the status page. */
  name: string;
  /**
   * The workers serve several requests at once on one connection (FCGI_MPXS_CONNS=1, as
   * webhist's own do): the server then keeps one connection per worker and shares it.
   */
  multiplexed?: boolean;
  logger: Logger;
  /** Print every record the server sends and receives. */
  trace: boolean;
}

export interface Pool {
  name: string;
  pm: PmPolicy;
  /** pm.max_children. */
  size: number;
  address: string;
  /** Runs one request on whichever worker accepts it. */
  run(request: CgiRequest): ScriptRun;
  /** The same, offered whole to the gateway first (forward.ts). */
  tryWhole(request: Omit<CgiRequest, 'signal'>): WholeAttempt;
  /** Requests in flight now. */
  readonly inFlight: number;
  workers(): WorkerInfo[];
  close(): Promise<void>;
}

export async function startPool(options: PoolOptions): Promise<Pool> {
  const { logger, name } = options;
  const dir = await mkdtemp(join(tmpdir(), 'webhist-fastcgi-'));
  const bound = join(dir, 'bind.sock');
  const address = join(dir, 'pool.sock');
  const { command, env, ownWorkers, retires, pm, size, minSpare, idleTimeoutMs } = options;
  // Short: the pool is stopped after the server has given requests their grace (5 s, then cut), so
  // a worker still busy after SIGTERM holds a request already cut (measured: 3000 made a stop 8 s).
  const config: ManagerConfig = { command, env, ownWorkers, retires, pm, size, minSpare, idleTimeoutMs, killAfterMs: 500 };

  let manager!: ChildProcess;
  let processes: WorkerProcess[] = [];
  /** Requests finished, per worker pid. */
  const served = new Map<number, number>();
  let closing = false;
  /** Manager deaths in the last minute: each restart waits longer, up to MANAGER_BACKOFF_MAX_MS. */
  const deaths: number[] = [];

  /**
   * Starts a process manager on a fresh listening socket, renamed over the pool's address (so a
   * new connection reaches the new workers at once); resolves when it is ready.
   */
  async function startManager(): Promise<void> {
    const server = createServer();
    await listen(server, bound);
    // Node has no public way to name a listening socket's descriptor; spawn-fcgi, in C, needs none.
    const fd = (server as unknown as { _handle: { fd: number } })._handle.fd;
    const child: ChildProcess = spawn(process.execPath, [managerFile, JSON.stringify(config)], {
      stdio: [fd, 'inherit', 'inherit', 'ipc'],
      env: {}, // nothing of the server's environment: the manager passes config.env to each worker
      // A process group of its own: Ctrl-C in a terminal reaches the server alone, which then
      // finishes the requests in flight before it stops the pool (a terminal's SIGINT to the
      // whole group killed the workers under them). A server that dies without a word closes
      // the IPC channel, and the manager stops its workers then.
      detached: true,
    });
    manager = child;
    await rename(bound, address);
    server.close();
    const managerPid = child.pid;
    if (managerPid !== undefined) {
      processStarted({ pid: managerPid, kind: 'manager', about: name });
      child.once('exit', (code, signal) => processExited({ pid: managerPid, status: signal ?? code ?? 0 }));
    }
    const ready = new Promise<void>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code, signal) => reject(new Error(`the ${name} process manager exited (${signal ?? code}) before it was ready`)));
      child.on('message', (message: FromManager) => {
        if (message.type === 'ready') resolve();
        else if (message.type === 'worker-started') processStarted({ pid: message.pid, kind: 'worker', about: name });
        else if (message.type === 'worker-exited') processExited(message);
        else if (message.type === 'status') {
          // The counts of workers that have gone go with them.
          for (const pid of served.keys()) if (!message.workers.some((w) => w.pid === pid)) served.delete(pid);
          processes = message.workers;
        } else logger.error(message.level, `fastcgi pool ${name}`, message.message);
      });
    });
    await ready;
    child.once('exit', (code, signal) => managerDied(child, code, signal));
  }

  /**
   * The manager is a process like any other: it can be killed. Its workers go with it (ours
   * leave when their IPC channel closes; a foreign application such as php-cgi has none, so the
   * pool ends the ones it knows), and a new manager with a new pool takes over, sooner the first
   * time, later if it keeps dying, as php-fpm's master is meant to be restarted by systemd.
   */
  function managerDied(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (closing) return;
    for (const { pid } of processes) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    processes = [];
    served.clear();
    const now = Date.now();
    deaths.push(now);
    while (deaths[0]! < now - 60_000) deaths.shift();
    const delay = Math.min(MANAGER_BACKOFF_MAX_MS, 250 * 2 ** (deaths.length - 1));
    logger.error(
      'error',
      `fastcgi pool ${name}`,
      `its process manager (pid ${child.pid}) ${signal ? `was killed by ${signal}` : `exited with status ${code}`}, and its workers with it: ` +
        `requests in flight on them get 502; starting a new manager in ${delay} ms`,
    );
    setTimeout(() => {
      if (closing) return;
      startManager().then(
        () => logger.error('info', `fastcgi pool ${name}`, `a new process manager (pid ${manager.pid}) serves the pool`),
        (error: Error) => {
          logger.error('error', `fastcgi pool ${name}`, `cannot start a new process manager: ${error.message}`);
          managerDied(manager, manager.exitCode, manager.signalCode);
        },
      );
    }, delay).unref();
  }

  await startManager();
  const tell = (message: ToManager) => manager.connected && manager.send(message);
  const kill = (pid: number | undefined, reason: string) => pid !== undefined && tell({ type: 'kill', pid, reason });

  const client = new FastCgiClient(`unix:${address}`, {
    askPid: ownWorkers,
    spread: size,
    onRecord: options.trace ? traceTo() : undefined,
  });
  // Asked now, while nothing waits on it, so that the first requests already share connections.
  if (options.multiplexed && pm !== 'ondemand') await client.values().catch(() => {});
  const live = new Set<Live>();
  const demand = demandSignal(pm, (inFlight) => tell({ type: 'demand', inFlight }));

  /** Sends a request, and keeps the books on it until it ends. */
  function send(request: Omit<CgiRequest, 'signal'>, signal?: AbortSignal): { sent: Forwarded; entry: Live } {
    const sent = forward(client, request, signal);
    const entry = { script: request.script.name, sent };
    live.add(entry);
    demand(live.size);
    // A worker that wrote what is not FastCGI cannot be trusted with the next request: replaced.
    // One reaction for both outcomes: the books are kept once END_REQUEST (or the failure) is in.
    sent.response.ended.then(
      () => done(entry),
      (error: unknown) => {
        if (error instanceof FastCgiProtocolError) kill(sent.response.appPid, `it broke the FastCGI protocol: ${error.message}`);
        done(entry);
      },
    );
    return { sent, entry };
  }

  function done(entry: Live): void {
    live.delete(entry);
    demand(live.size);
    const pid = entry.sent.response.appPid;
    if (pid !== undefined) served.set(pid, (served.get(pid) ?? 0) + 1);
  }

  /**
   * ABORT_REQUEST stops a plain program (the worker kills its process group). A handler cannot
   * be stopped, only abandoned: the worker closes its stdout and answers END_REQUEST, and its
   * other requests go on. php-fpm kills the child at request_terminate_timeout, which costs
   * nobody else anything, since the child serves one request; a Node worker may be serving
   * many, so it is killed only if it cannot even answer ABORT_REQUEST: its event loop is
   * stuck in a handler that never yields, and its other requests are stuck with it.
   */
  function watchTime(entry: Live, signal: AbortSignal): void {
    const { sent, script } = entry;
    signal.addEventListener(
      'abort',
      () => {
        const cut = signal.reason;
        // Only while the worker still has it: past END_REQUEST (a slow client still reading) the
        // worker owes nothing.
        // A plain program's worker answers as soon as it has killed the program's process group; one
        // that cannot answer even that is stopped (SIGSTOP) or stuck, and is replaced all the same.
        if (!live.has(entry) || !(cut instanceof RequestCut) || cut.why !== 'timeout') return;
        void sent.response.released(ABORT_ANSWER_MS).then((answered) => {
          if (!answered)
            kill(
              sent.response.appPid,
              `${script} ${cut.message}, and the worker did not answer ABORT_REQUEST within ${ABORT_ANSWER_MS / 1000} s (stuck in a handler that never yields, or stopped)`,
            );
        });
      },
      { once: true },
    );
  }

  function run(request: CgiRequest): ScriptRun {
    const { sent, entry } = send(request, request.signal);
    watchTime(entry, request.signal);
    return asRun(sent, request.signal);
  }

  function tryWhole(request: Omit<CgiRequest, 'signal'>): WholeAttempt {
    const { sent, entry } = send(request);
    const attempt = asWholeAttempt(sent);
    return {
      output: attempt.output,
      stream(signal) {
        const run = attempt.stream(signal);
        watchTime(entry, signal);
        return run;
      },
      get pid() {
        return attempt.pid;
      },
    };
  }

  /** The manager's processes, with what the server saw each serve (where the worker told its pid). */
  function workers(): WorkerInfo[] {
    return processes.map(({ pid, startedAt, rssBytes }): WorkerInfo => {
      if (!ownWorkers) return { pid, startedAt, rssBytes };
      const scripts = [...live].filter(({ sent }) => sent.response.appPid === pid).map((r) => r.script);
      return { pid, state: scripts.length ? 'busy' : 'idle', served: served.get(pid) ?? 0, scripts, startedAt, rssBytes };
    });
  }

  return {
    name,
    pm,
    size,
    address: `unix:${address}`,
    run,
    tryWhole,
    get inFlight() {
      return live.size;
    },
    workers,
    async close() {
      closing = true;
      await client.close();
      const gone = new Promise((resolve) => manager.once('exit', resolve));
      if (manager.exitCode === null && manager.signalCode === null) {
        tell({ type: 'stop' });
        await gone;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A request in flight: its script's name, for the status page. */
interface Live {
  script: string;
  sent: Forwarded;
}

/**
 * Tells the manager how many requests are in flight, for pm dynamic and ondemand, without a
 * message per request: at once when demand grows past what it last heard, and once it has
 * stayed lower for a moment (so that an idle pool may shrink, and a replaced worker is not
 * sized for a peak long gone). A static pool needs to hear nothing.
 */
function demandSignal(pm: PmPolicy, tell: (inFlight: number) => void): (inFlight: number) => void {
  let told = 0;
  let now = 0;
  let settling: NodeJS.Timeout | undefined;
  return (inFlight) => {
    if (pm === 'static') return;
    now = inFlight;
    if (now > told) {
      clearTimeout(settling);
      settling = undefined;
      tell((told = now));
    } else if (now < told && !settling) {
      settling = setTimeout(() => {
        settling = undefined;
        if (now !== told) tell((told = now));
      }, SETTLE_MS).unref();
    }
  };
}

/** --trace: every record, one line each (folded), on stderr beside the error log, as docs/fastcgi.md shows it. */
export function traceTo(): TraceRecord {
  return traceWriter((text) => process.stderr.write(text));
}
