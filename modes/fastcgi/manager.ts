/**
 * The process manager of a FastCGI pool: php-fpm's master process, spawn-fcgi's job. It runs as
 * a process of its own, started by the pool (pool.ts) with the pool's listening socket as its fd 0
 * and an IPC channel. It never accepts on that socket; it only hands it to each worker as the
 * worker's fd 0 (FCGI_LISTENSOCK_FILENO, FastCGI §2.2), so any FastCGI application can be a
 * worker, and the kernel gives each connection to whichever worker accepts it first.
 *
 * It keeps the pool at the size its process-management policy asks for (php-fpm's pm = static,
 * dynamic, ondemand), replaces a worker that crashed (with backoff, so a worker that dies at
 * start-up cannot become a fork storm) or retired after --max-requests, kills a worker the
 * server names (its request ran out of time, or it wrote what is not FastCGI), and reports the
 * workers' pids and memory for the status page. It hears nothing per request: what each worker
 * serves, the server sees on the worker's connections.
 *
 * usage: node manager.js CONFIG_JSON   (fd 0: the listening socket; an IPC channel)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { ManagerConfig, ToManager, FromManager, FromWorker, WorkerProcess } from './messages.ts';

const config = JSON.parse(process.argv[2] ?? '{}') as ManagerConfig;

interface Worker extends WorkerProcess {
  child: ChildProcess;
  /** Going (the pool shrinks, or it said it is retiring), so its exit is no crash and it no longer counts. */
  retiring: boolean;
  /** Killed because the server said so (a request past its time, garbage on the wire): no crash either. */
  killedBecause?: string;
}

/** A worker that exits cleanly sooner than this after its start is no retiree but a fault. */
const MIN_LIFETIME_MS = 100;

const workers = new Map<number, Worker>();
const crashes: number[] = [];
let inFlight = 0;
let idleSince = Date.now();
let stopping = false;

function send(message: FromManager): void {
  if (process.connected) process.send!(message);
}
const log = (level: 'info' | 'warn' | 'error', message: string) => send({ type: 'log', level, message });

function startWorker(): void {
  const [program, ...args] = config.command;
  const child = spawn(program!, args, {
    env: config.env,
    // fd 0 is the listening socket, passed on as it came. Our own workers also get an IPC
    // channel, only so that they notice when it closes; a foreign application (php-cgi) gets none.
    stdio: [0, 'ignore', 'inherit', ...(config.ownWorkers ? (['ipc'] as const) : [])],
  });
  if (child.pid === undefined) {
    child.once('error', (error) => log('error', `cannot start ${program}: ${error.message}`));
    return;
  }
  const worker: Worker = { child, pid: child.pid, startedAt: Date.now(), rssBytes: 0, retiring: false };
  workers.set(child.pid, worker);
  send({ type: 'worker-started', pid: child.pid });
  child.once('exit', (code, signal) => onExit(worker, code, signal));
  child.on('message', (message: FromWorker) => {
    if (message.type !== 'retiring' || worker.retiring) return;
    worker.retiring = true;
    log('info', `worker ${worker.pid} retired (--max-requests): it finishes what it has while a fresh one starts`);
    fill();
  });
  report();
}

function onExit(worker: Worker, code: number | null, signal: NodeJS.Signals | null): void {
  workers.delete(worker.pid);
  send({ type: 'worker-exited', pid: worker.pid, status: signal ?? code ?? 0 });
  report();
  if (stopping) {
    if (workers.size === 0) process.exit(0);
    return;
  }
  if (worker.retiring) return fill();
  // A kill we ordered is no crash: counted as one, a handler that hangs once a second would keep
  // the pool backing off, and short of workers, for as long as it is asked for.
  if (worker.killedBecause) {
    log('info', `worker ${worker.pid} is gone (killed: ${worker.killedBecause}); starting a fresh one`);
    return fill();
  }
  const how = signal ? `killed by ${signal}` : `exited with status ${code}`;
  // A worker that leaves of its own accord, cleanly, where workers do, has retired: ours after
  // --max-requests, php-cgi after PHP_FCGI_MAX_REQUESTS.
  if (config.retires && code === 0 && Date.now() - worker.startedAt >= MIN_LIFETIME_MS) {
    log('info', `worker ${worker.pid} retired (--max-requests: it exited cleanly); starting a fresh one`);
    return fill();
  }
  // A crash is replaced at once; crashes in quick succession wait longer each time, up to 5 s,
  // as php-fpm's emergency_restart_threshold exists to stop a worker that dies on start.
  const now = Date.now();
  crashes.push(now);
  while (crashes[0]! < now - 10_000) crashes.shift();
  const delay = crashes.length <= 1 ? 0 : Math.min(5000, 100 * 2 ** (crashes.length - 2));
  log('warn', `worker ${worker.pid} ${how}; ${delay ? `respawning in ${delay} ms` : 'respawning'}`);
  setTimeout(fill, delay);
}

/** How many workers the policy wants now (php-fpm's pm.*). */
function wanted(): number {
  const { pm, size, minSpare } = config;
  if (pm === 'static') return size;
  if (pm === 'ondemand') return Math.min(size, inFlight);
  return Math.min(size, Math.max(minSpare, inFlight + minSpare));
}

/** The workers that take new connections: not those on their way out. */
function serving(): Worker[] {
  return [...workers.values()].filter((w) => !w.retiring);
}

function fill(): void {
  if (stopping) return;
  for (let n = serving().length; n < wanted(); n++) startWorker();
}

/** Shrinks an idle pool: only when nothing is in flight, so no request is cut by it. */
function trim(): void {
  if (config.pm === 'static' || inFlight > 0 || Date.now() - idleSince < config.idleTimeoutMs) return;
  const surplus = serving().slice(wanted());
  for (const worker of surplus) {
    worker.retiring = true;
    worker.child.kill('SIGTERM');
  }
  if (surplus.length) log('info', `${surplus.length} idle worker(s) stopped (pm ${config.pm})`);
}

function rssOf(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

/**
 * Sends the pool's workers to the server for its status page, at most every 250 ms (a pool
 * being filled starts several at once); RSS, a read of /proc per worker, is taken by the
 * once-a-second tick.
 */
let reportPending = false;
function report(): void {
  if (reportPending) return;
  reportPending = true;
  setTimeout(() => {
    reportPending = false;
    send({ type: 'status', workers: [...workers.values()].map(({ pid, startedAt, rssBytes }) => ({ pid, startedAt, rssBytes })) });
  }, 250).unref();
}

function measure(): void {
  for (const worker of workers.values()) worker.rssBytes = rssOf(worker.pid);
  report();
}

function stop(): void {
  if (stopping) return;
  stopping = true;
  if (workers.size === 0) process.exit(0);
  for (const { child } of workers.values()) child.kill('SIGTERM');
  // SIGTERM, then SIGKILL for whatever has not gone (FastCGI §2.2; php-fpm does the same).
  setTimeout(() => {
    for (const { child } of workers.values()) child.kill('SIGKILL');
    process.exit(0);
  }, config.killAfterMs).unref();
}

process.on('message', (message: ToManager) => {
  switch (message.type) {
    case 'demand':
      // The server says when demand grows and when it falls to nothing, not every change.
      inFlight = message.inFlight;
      if (inFlight === 0) idleSince = Date.now();
      fill();
      break;
    case 'kill': {
      const worker = workers.get(message.pid); // only a worker of this pool, never any pid
      if (worker && !worker.killedBecause) {
        log('warn', `killing worker ${worker.pid}: ${message.reason}`);
        worker.killedBecause = message.reason;
        worker.child.kill('SIGKILL'); // a stopped (SIGSTOP) process dies of it too
      }
      break;
    }
    case 'stop':
      stop();
      break;
  }
});
// The server went away without a word: take the workers along.
process.on('disconnect', stop);
process.on('SIGTERM', stop);

fill();
setInterval(() => {
  trim();
  measure();
}, 1000);
send({ type: 'ready' });
