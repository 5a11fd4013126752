/**
 * A pool of FastCGI workers, seen from the server: a listening unix socket in a private
 * directory, a process manager (manager.ts) that holds it as fd 0 and keeps workers on it, and
 * a FastCGI client (src/fastcgi/client.ts) that sends requests to whichever worker accepts.
 *
 * The socket is made here and passed on, because Node cannot hold a listening socket without
 * accepting on it itself: once the manager has its copy, ours is closed. libuv unlinks a unix
 * socket's path when its server closes, so the path is renamed first, and the socket lives on
 * under the new name in the manager and its workers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rename, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FastCgiClient } from '../../src/fastcgi/client.ts';
import { describeRecord, type TraceRecord } from '../../src/fastcgi/trace.ts';
import type { Logger } from '../../src/server/log.ts';
import type { FromManager, ManagerConfig, PmPolicy, ToManager, WorkerInfo } from './messages.ts';

const managerFile = fileURLToPath(new URL(`./manager${extname(import.meta.url)}`, import.meta.url));

export interface PoolOptions extends Omit<ManagerConfig, 'killAfterMs'> {
  /** How the pool is named in logs and on the status page. */
  name: string;
  logger: Logger;
  /** Print every record the server sends and receives. */
  trace: boolean;
}

export interface Pool {
  name: string;
  pm: PmPolicy;
  address: string;
  client: FastCgiClient;
  workers(): WorkerInfo[];
  /** Tells the manager how many requests are in flight, for pm dynamic and ondemand. */
  demand(inFlight: number): void;
  /** Kills the worker serving the request with this key (its time ran out). */
  kill(key: string, reason: string): void;
  close(): Promise<void>;
}

export async function startPool(options: PoolOptions): Promise<Pool> {
  const { logger, name } = options;
  const dir = await mkdtemp(join(tmpdir(), 'webhist-fastcgi-'));
  const bound = join(dir, 'bind.sock');
  const address = join(dir, 'pool.sock');

  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(bound, resolve));
  // Node has no public way to name a listening socket's descriptor; spawn-fcgi, in C, needs none.
  const fd = (server as unknown as { _handle: { fd: number } })._handle.fd;
  const { command, env, reports, pm, size, minSpare, idleTimeoutMs } = options;
  const config: ManagerConfig = { command, env, reports, pm, size, minSpare, idleTimeoutMs, killAfterMs: 3000 };
  const manager: ChildProcess = spawn(process.execPath, [managerFile, JSON.stringify(config)], {
    stdio: [fd, 'inherit', 'inherit', 'ipc'],
  });
  await rename(bound, address);
  server.close();

  let workers: WorkerInfo[] = [];
  const ready = new Promise<void>((resolve, reject) => {
    manager.once('error', reject);
    manager.once('exit', (code) => reject(new Error(`the ${name} process manager exited (${code}) before it was ready`)));
    manager.on('message', (message: FromManager) => {
      if (message.type === 'ready') resolve();
      else if (message.type === 'status') workers = message.workers;
      else logger.error(message.level, `fastcgi pool ${name}`, message.message);
    });
  });
  await ready;
  const tell = (message: ToManager) => manager.connected && manager.send(message);

  const client = new FastCgiClient(`unix:${address}`, { onRecord: options.trace ? traceTo(logger, name) : undefined });
  return {
    name,
    pm,
    address: `unix:${address}`,
    client,
    workers: () => workers,
    demand: (inFlight) => tell({ type: 'demand', inFlight }),
    kill: (key, reason) => tell({ type: 'kill', key, reason }),
    async close() {
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

/** --trace: every record, one line each, in the error log. */
export function traceTo(logger: Logger, name: string): TraceRecord {
  return (record, direction) => logger.error('info', `trace ${name}`, describeRecord(record, direction));
}
