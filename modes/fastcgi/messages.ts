/**
 * What the three processes of a FastCGI pool say to each other over their IPC channels: the
 * server (pool.ts), the process manager (manager.ts) and our own workers (worker.ts). A
 * foreign worker, such as php-cgi, says nothing; the manager then knows only its pid and RSS.
 */

export type PmPolicy = 'static' | 'dynamic' | 'ondemand';
export const pmPolicies: readonly PmPolicy[] = ['static', 'dynamic', 'ondemand'];

export interface ManagerConfig {
  /** The worker's program and arguments; it finds the listening socket on fd 0. */
  command: string[];
  env: Record<string, string>;
  /** Whether workers report over IPC (ours do; php-cgi cannot). */
  reports: boolean;
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

export interface WorkerInfo {
  pid: number;
  state: 'idle' | 'busy';
  /** Requests finished by this worker. */
  served: number;
  /** The requests it is serving now (a Node worker may serve several at once). */
  serving: Array<{ key: string; script: string }>;
  startedAt: number;
  rssBytes: number;
}

export type ToManager =
  | { type: 'demand'; inFlight: number }
  | { type: 'kill'; key: string; reason: string }
  | { type: 'stop' };

export type FromManager =
  | { type: 'ready' }
  | { type: 'status'; workers: WorkerInfo[] }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; message: string };

export type FromWorker =
  | { type: 'start'; key: string; script: string }
  | { type: 'end'; key: string; served: number }
  | { type: 'retiring' };

/** The key a worker reports and the server asks about: unique among requests in flight. */
export function requestKey(env: Record<string, string | undefined>): string {
  return `${env.REMOTE_ADDR}:${env.REMOTE_PORT}`;
}
