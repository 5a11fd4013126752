/**
 * FastCGI mode (Open Market, 1996): persistent workers behind a socket, spoken to in FastCGI
 * records. The server keeps a pool of webhist workers (worker.ts) for JavaScript handlers and
 * plain programs, and, where php-cgi is installed, a pool of php-cgi for .php scripts: the
 * same socket-on-fd-0 arrangement, so php-cgi runs as the real FastCGI application it is. With
 * --fastcgi-connect, every request goes instead to an application someone else manages (php-fpm,
 * a spawn-fcgi pool, `webhist worker`).
 */
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FIXED_PATH } from '../../src/cgi/env.ts';
import { FastCgiClient } from '../../src/fastcgi/client.ts';
import type { Mode } from '../../src/mode.ts';
import { findProgram } from '../../src/run/program.ts';
import type { Logger } from '../../src/server/log.ts';
import type { PmPolicy } from './messages.ts';
import { startPool, traceTo, type Pool } from './pool.ts';
import { forward } from './forward.ts';

const workerMain = fileURLToPath(new URL(`./worker-main${extname(import.meta.url)}`, import.meta.url));

export interface FastCgiModeOptions {
  cgiBin: string;
  workers: number;
  pm: PmPolicy;
  /** A worker retires after this many requests (pm.max_requests); 0 = never. */
  maxRequests: number;
  /** Send every request to this application instead of our own pools: unix:PATH or tcp:HOST:PORT. */
  connect?: string;
  trace: boolean;
  logger: Logger;
}

/** The environment a worker process starts with: a fixed PATH and nothing of ours. */
const workerEnv = { PATH: FIXED_PATH };

export async function createFastCgiMode(options: FastCgiModeOptions): Promise<Mode> {
  const { logger } = options;
  if (options.connect) {
    const client = new FastCgiClient(options.connect, { onRecord: options.trace ? traceTo() : undefined });
    await client.values().catch((error: Error) => {
      throw new Error(`cannot reach the FastCGI application at ${options.connect}: ${error.message}`);
    });
    return {
      name: 'fastcgi',
      run: (request) => forward(client, request),
      status: () => ({ mode: 'fastcgi', upstream: options.connect }),
      close: () => client.close(),
    };
  }

  const common = { pm: options.pm, size: options.workers, retires: options.maxRequests > 0, minSpare: 1, idleTimeoutMs: 10_000, logger, trace: options.trace };
  const workerOptions = { cgiBin: options.cgiBin, maxRequests: options.maxRequests, multiplex: false, trace: false, watchdog: false };
  const pools: Pool[] = [
    await startPool({ ...common, name: 'webhist', command: [process.execPath, workerMain, JSON.stringify(workerOptions)], env: workerEnv, ownWorkers: true }),
  ];
  const phpCgi = findProgram('php-cgi');
  if (phpCgi) {
    pools.push(await startPool({
      ...common,
      // Started on the first .php request, not before: most scripts here are not PHP, and four
      // idle php-cgi processes would be counted against every benchmark of the other pool.
      pm: 'ondemand',
      name: 'php-cgi',
      command: [phpCgi],
      // php-cgi forks its own children unless told not to; the manager is the one to do that here.
      env: { ...workerEnv, PHP_FCGI_CHILDREN: '0', PHP_FCGI_MAX_REQUESTS: String(options.maxRequests || 0) },
      ownWorkers: false,
    }));
  }
  const [webhist, php] = pools as [Pool, Pool | undefined];
  return {
    name: 'fastcgi',
    refuses: (script) => (extname(script.file) === '.php' && !php ? 'php-cgi is not installed, so .php scripts cannot run (apt-get install php-cgi)' : undefined),
    run: (request) => (extname(request.script.file) === '.php' ? php! : webhist).run(request),
    status: () => ({
      mode: 'fastcgi',
      pm: options.pm,
      maxChildren: options.workers,
      maxRequests: options.maxRequests,
      pools: pools.map((pool) => ({ name: pool.name, pm: pool.pm, address: pool.address, inFlight: pool.inFlight, workers: pool.workers() })),
    }),
    async close() {
      await Promise.all(pools.map((pool) => pool.close()));
    },
  };
}
