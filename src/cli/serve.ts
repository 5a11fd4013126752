/**
 * `webhist serve`: the server in one of the three process models.
 */
import { Command, Option } from 'commander';
import cluster from 'node:cluster';
import { stat } from 'node:fs/promises';
import { relative } from 'node:path';
import { modeNames, type Mode, type ModeName } from '../mode.ts';
import { pmPolicies, type PmPolicy } from '../../modes/fastcgi/messages.ts';
import { shippedCgiBin, shippedDocroot } from '../package-root.ts';
import { startServer } from '../server/http-front.ts';
import { createLogger, logFormats, type LogFormat, type Logger } from '../server/log.ts';
import { parseChoice, parseDuration, parseInteger, parseSize } from './options.ts';
import { paint, UsageError } from './ui.ts';

interface ServeOptions {
  mode: ModeName;
  host: string;
  port: number;
  cgiBin: string;
  docroot: string;
  timeout: number;
  maxConcurrency: number;
  maxBody: number;
  passAuthorization: boolean;
  revalidate: number;
  log: LogFormat;
  quiet: boolean;
  processes: number;
  workers?: number;
  pm: PmPolicy;
  maxRequests: number;
  requestTimeout?: number;
  fastcgiConnect?: string;
  trace: boolean;
}

export const serveCommand = new Command('serve')
  .description('serve the docroot and run cgi-bin scripts in one of three process models')
  .addOption(new Option('--mode <mode>', 'process model: cgi (a process per request), fastcgi, embedded').default('cgi').argParser(parseChoice(modeNames)))
  .option('--host <address>', 'address to listen on', '127.0.0.1')
  .option('--port <n>', 'port to listen on (0 picks a free one)', parseInteger(0, 65535), 8080)
  .option('--cgi-bin <dir>', 'directory of scripts served under /cgi-bin/', shippedCgiBin)
  .option('--docroot <dir>', 'directory of static files', shippedDocroot)
  .option('--timeout <duration>', 'time limit per request; past it the script is killed (504)', parseDuration, 30_000)
  .option('--max-concurrency <n>', 'scripts running at once; past it clients get 503', parseInteger(1), 64)
  .option('--max-body <size>', 'largest request body accepted (413 past it)', parseSize, 10 * 1024 ** 2)
  .option('--pass-authorization', 'give scripts the Authorization header as HTTP_AUTHORIZATION', false)
  .option('--revalidate <duration>', "trust what the disk said about a script this long before looking again (PHP's opcache.revalidate_freq); 0 = every request", parseDuration, 1000)
  .addOption(new Option('--log <format>', 'access log format').choices(logFormats).default('clf'))
  .option('--quiet', 'no access log', false)
  .option('--processes <n>', 'embedded mode: server processes sharing the port, a stuck or dead one replaced (node:cluster, like Apache prefork)', parseInteger(1, 256), 1)
  .option('--workers <n>', 'fastcgi mode: worker processes per pool (pm.max_children); default: one per core less one for handlers (each serves many requests at once), 4 for php-cgi (one at a time)', parseInteger(1, 256))
  .addOption(new Option('--pm <policy>', 'fastcgi mode: static (always --workers), dynamic (grow with load), ondemand (start at first request)').choices(pmPolicies).default('static'))
  .option('--max-requests <n>', 'fastcgi mode: a worker retires after this many requests; 0 = never (pm.max_requests)', parseInteger(0), 0)
  .option('--request-timeout <duration>', "fastcgi mode: php-fpm's name for --timeout (request_terminate_timeout)", parseDuration)
  .option('--fastcgi-connect <address>', 'fastcgi mode: send requests to an application already running at unix:PATH or tcp:HOST:PORT (php-fpm, spawn-fcgi) instead of our own pool')
  .option('--trace', 'fastcgi mode: print every FastCGI record sent and received, one line each', false)
  .action(async (options: ServeOptions) => {
    if (options.requestTimeout !== undefined) options.timeout = options.requestTimeout;
    await requireDirectory(options.cgiBin, '--cgi-bin');
    await requireDirectory(options.docroot, '--docroot');
    const logger = createLogger({ format: options.log, quiet: options.quiet });
    if (options.processes > 1 && options.mode !== 'embedded') throw new UsageError('--processes is for --mode embedded');
    if (options.mode === 'embedded' && cluster.isPrimary) await (await import('../../modes/embedded/index.ts')).logRefusedScripts(options.cgiBin, logger);
    const announce = (url: string, pool = '') =>
      process.stdout.write(
        `webhist ${paint.bold(options.mode)} mode on ${paint.cyan(url)}${pool}  ` +
          paint.dim(`(cgi-bin ${shown(options.cgiBin)}, docroot ${shown(options.docroot)}; Ctrl-C stops)\n`),
      );
    if (options.processes > 1 && cluster.isPrimary) {
      // This process only supervises; each server process re-runs this command as a cluster worker.
      const { superviseProcesses } = await import('../../modes/embedded/cluster.ts');
      const { url } = await superviseProcesses({ processes: options.processes, stuckAfterMs: options.timeout, host: options.host, logger });
      announce(url, ` (${options.processes} processes)`);
      return;
    }
    const mode = await createMode(options, logger);
    const server = await startServer({
      mode,
      host: options.host,
      port: options.port,
      cgiBin: options.cgiBin,
      docroot: options.docroot,
      timeoutMs: options.timeout,
      maxConcurrency: options.maxConcurrency,
      maxBody: options.maxBody,
      passAuthorization: options.passAuthorization,
      revalidateMs: options.revalidate,
      logger,
    }).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE') throw new UsageError(`port ${options.port} on ${options.host} is in use (try --port 0)`);
      if (error.code === 'EACCES') throw new UsageError(`not allowed to listen on port ${options.port} (try a port above 1023)`);
      throw error;
    });
    if (cluster.isPrimary) announce(server.url);

    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) {
        // A second Ctrl-C: leave now, but take every script's process group along.
        void mode.close();
        process.exit(130);
      }
      stopping = true;
      logger.error('info', 'server', `${signal}: finishing requests in flight, then stopping`);
      server.close().then(() => process.exit(0));
    };
    // In a --processes pool Ctrl-C reaches every process; the supervisor answers it with a SIGTERM each.
    process.on('SIGINT', () => cluster.isWorker || stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
  });

/**
 * Only the mode that runs is loaded: a CGI server forks a process per request, and fork costs
 * more the more memory the parent has (measured: 1.2 ms of CPU per spawn at 57 MB RSS, 7.8 ms
 * at 266 MB), which is why Apache grew mod_cgid.
 */
async function createMode(options: ServeOptions, logger: Logger): Promise<Mode> {
  switch (options.mode) {
    case 'cgi':
      return (await import('../../modes/cgi/index.ts')).createCgiMode();
    case 'embedded':
      return (await import('../../modes/embedded/index.ts')).createEmbeddedMode({ logger, logFormat: options.log });
    case 'fastcgi':
      return (await import('../../modes/fastcgi/index.ts')).createFastCgiMode({
        cgiBin: options.cgiBin,
        workers: options.workers,
        pm: options.pm,
        maxRequests: options.maxRequests,
        connect: options.fastcgiConnect,
        trace: options.trace,
        logger,
      }).catch((error: Error) => {
        throw new UsageError(error.message);
      });
  }
}

async function requireDirectory(dir: string, flag: string): Promise<void> {
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory()) throw new UsageError(`${flag} ${dir}: no such directory`);
}

function shown(dir: string): string {
  const rel = relative(process.cwd(), dir);
  return rel && !rel.startsWith('..') ? `./${rel}` : dir;
}
