/**
 * What the server (pool.ts) and a pool's process manager (manager.ts) say to each other over
 * their IPC channel. Nothing passes per request: the server learns which worker serves which
 * request from the connection itself (PID_VALUE, src/fastcgi/protocol.ts), so a busy pool costs
 * the manager nothing; it speaks when a worker starts, ends or is measured.
 */

export type PmPolicy = 'static' | 'dynamic' | 'ondemand';
export const pmPolicies: readonly PmPolicy[] = ['static', 'dynamic', 'ondemand'];

export interface ManagerConfig {
  /** The worker's program and arguments; it finds the listening socket on fd 0. */
  command: string[];
  env: Record<string, string>;
  /**
   * webhist's own workers: they get an IPC channel (and leave when the manager does) and tell
   * their pid on each connection. A foreign application, such as php-cgi, gets neither.
   */
  ownWorkers: boolean;
  /**
   * Workers leave on their own after so many requests (--max-requests, PHP_FCGI_MAX_REQUESTS):
   * a clean exit is then a retirement. Otherwise every exit is a fault, backed off as crashes are.
   */
  retires: boolean;
  pm: PmPolicy;
  /** pm.max_children: the most workers at once. */
  size: number;
  /** pm.min_spare_servers, for pm dynamic. */
  minSpare: number;
  /** pm.process_idle_timeout: an idle pool shrinks after this long. */
  idleTimeoutMs: number;
  /** After SIGTERM, how long a worker has before SIGKILL. */
  killAfterMs: number;
}

/** A worker as its manager knows it: a process. */
export interface WorkerProcess {
  pid: number;
  startedAt: number;
  rssBytes: number;
}

/** A worker as the status page shows it: the process, and what the server saw it serve. */
export interface WorkerInfo extends WorkerProcess {
  /** Absent for a worker that does not tell its pid: nobody knows what it serves. */
  state?: 'idle' | 'busy';
  /** Requests it finished since the server started. */
  served?: number;
  /** The scripts it is running now (a Node worker may serve several at once). */
  scripts?: string[];
}

export type ToManager = { type: 'demand'; inFlight: number } | { type: 'kill'; pid: number; reason: string } | { type: 'stop' };

/**
 * What one of our own workers says to its manager, once in its life: past --max-requests it
 * stops accepting and finishes what it has, and the manager starts its replacement at once
 * rather than after it exits, so a pool of one worker never stands empty while a Node process boots.
 */
export type FromWorker = { type: 'retiring' };

export type FromManager =
  | { type: 'ready' }
  | { type: 'status'; workers: WorkerProcess[] }
  /** At once, not throttled as `status` is: the live view draws each worker's life. */
  | { type: 'worker-started'; pid: number }
  /** `status`: its exit code, or the signal that killed it. */
  | { type: 'worker-exited'; pid: number; status: number | string }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; message: string };
