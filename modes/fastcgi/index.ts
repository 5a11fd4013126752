/**
 * FastCGI mode (Open Market, 1996): persistent workers behind a socket, spoken to in FastCGI
 * records. The server keeps a pool of webhist workers (worker.ts) for JavaScript handlers and
 * plain programs, and, where php-cgi is installed, a pool of php-cgi for .php scripts: the
 * same socket-on-fd-0 arrangement, so php-cgi runs as the real FastCGI application it is. With
 * --fastcgi-connect, every request goes instead to an application someone else manages (php-fpm,
 * a spawn-fcgi pool, `webhist worker`).
 */
import { availableParallelism } from 'node:os';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FIXED_PATH } from '../../src/cgi/env.ts';
import { FastCgiClient } from '../../src/fastcgi/client.ts';
import type { Mode } from '../../src/mode.ts';
import { findProgram } from '../../src/run/program.ts';
import type { Logger } from '../../src/server/log.ts';
import type { PmPolicy } from './messages.ts';
import { startPool, traceTo, type Pool } from './pool.ts';
import { asRun, asWholeAttempt, forward } from './forward.ts';

const workerMain = fileURLToPath(new URL(`./worker-main${extname(import.meta.url)}`, import.meta.url));

export interface FastCgiModeOptions {
  cgiBin: string;
  /** pm.max_children; default: defaultNodeWorkers() for our pool, PHP_CGI_WORKERS for php-cgi's. */
  workers?: number;
  pm: PmPolicy;
  /** A worker retires after this many requests (pm.max_requests); 0 = never. */
  maxRequests: number;
  /** Send every request to this application instead of our own pools: unix:PATH or tcp:HOST:PORT. */
  connect?: string;
  trace: boolean;
  logger: Logger;
}

/** php-cgi's pool, one request per process: php-fpm's pm.max_children in its example pool is 5; 4 here, as before. */
const PHP_CGI_WORKERS = 4;

/**
 * Our pool's size: a Node worker serves many requests at once, so more processes than cores buy
 * nothing but wake-ups and memory, and the server itself, a Node process too, wants a core.
 * Measured on 2 cores (bench/README.md, "FastCGI: the pool"): 1 worker beat 2 and 4.
 */
function defaultNodeWorkers(): number {
  return Math.max(1, availableParallelism() - 1);
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
      run: (request) => asRun(forward(client, request, request.signal), request.signal),
      tryWhole: (request) => asWholeAttempt(forward(client, request)),
      status: () => ({ mode: 'fastcgi', upstream: options.connect }),
      close: () => client.close(),
    };
  }

  const common = { pm: options.pm, retires: options.maxRequests > 0, minSpare: 1, idleTimeoutMs: 10_000, logger, trace: options.trace };
  // Our workers multiplex: one Node process serves many requests at once from its event loop.
  const workerOptions = { cgiBin: options.cgiBin, maxRequests: options.maxRequests, multiplex: true, idleTimeoutMs: 0, trace: false, watchdog: false };
  const pools: Pool[] = [
    await startPool({
      ...common,
      name: 'webhist',
      size: options.workers ?? defaultNodeWorkers(),
      command: [process.execPath, workerMain, JSON.stringify(workerOptions)],
      env: workerEnv,
      ownWorkers: true,
      multiplexed: true,
    }),
  ];
  const phpCgi = findProgram('php-cgi');
  if (phpCgi) {
    pools.push(
      await startPool({
        ...common,
        // php-cgi serves one request at a time (it answers FCGI_MPXS_CONNS=0): it needs a process
        // for every request in flight, as php-fpm's children do.
        size: options.workers ?? PHP_CGI_WORKERS,
        multiplexed: false,
        // Started on the first .php request, not before: most scripts here are not PHP, and four
        // idle php-cgi processes would be counted against every benchmark of the other pool.
        pm: 'ondemand',
        name: 'php-cgi',
        command: [phpCgi],
        // php-cgi forks its own children unless told not to; the manager is the one to do that here.
        env: { ...workerEnv, PHP_FCGI_CHILDREN: '0', PHP_FCGI_MAX_REQUESTS: String(options.maxRequests || 0) },
        ownWorkers: false,
      }),
    );
  }
  const [webhist, php] = pools as [Pool, Pool | undefined];
  const poolFor = (request: { script: { file: string } }) => (extname(request.script.file) === '.php' ? php! : webhist);
  return {
    name: 'fastcgi',
    refuses: (script) =>
      extname(script.file) === '.php' && !php ? 'php-cgi is not installed, so .php scripts cannot run (apt-get install php-cgi)' : undefined,
    run: (request) => poolFor(request).run(request),
    tryWhole: (request) => poolFor(request).tryWhole(request),
    status: () => ({
      mode: 'fastcgi',
      pm: options.pm,
      maxRequests: options.maxRequests,
      pools: pools.map((pool) => ({
        name: pool.name,
        pm: pool.pm,
        maxChildren: pool.size,
        address: pool.address,
        inFlight: pool.inFlight,
        workers: pool.workers(),
      })),
    }),
    async close() {
      await Promise.all(pools.map((pool) => pool.close()));
    },
  };
}
