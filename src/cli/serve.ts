/**
 * `webhist serve`: the server in one of the three process models.
 */
import { Command, Option } from 'commander';
import cluster from 'node:cluster';
import { stat } from 'node:fs/promises';
import { relative, resolve } from 'node:path';
import { modeNames, type Mode, type ModeName } from '../mode.ts';
import { pmPolicies, type PmPolicy } from '../../modes/fastcgi/messages.ts';
import type { SpawnWay } from '../run/launcher.ts';
import { defaultHeaderTimeoutMs, startServer } from '../server/http-front.ts';
import { createLogger, defaultLogBuffer, logFormats, type LogFormat, type Logger } from '../server/log.ts';
import { defaultFolders } from './folders.ts';
import { reexecWithServerEnvironment } from './server-environment.ts';
import { formatDuration, formatSize, parseChoice, parseDuration, parseInteger, parseSize, parseTimeLimit } from './options.ts';
import { paint, UsageError } from './ui.ts';

interface ServeOptions {
  mode: ModeName;
  host: string;
  port: number;
  cgiBin: string;
  docroot: string;
  timeout: number;
  idleTimeout: number;
  maxConcurrency: number;
  maxBody: number;
  passAuthorization: boolean;
  revalidate: number;
  log: LogFormat;
  quiet: boolean;
  logBuffer?: number;
  processes: number;
  spawn: SpawnWay;
  workers?: number;
  pm: PmPolicy;
  maxRequests: number;
  requestTimeout?: number;
  fastcgiConnect?: string;
  trace: boolean;
  headerTimeout: number;
  exposeStatus: boolean;
}

/** As commander hands them over: the folders not yet chosen, flags not given left undefined. */
type ServeFlags = Omit<ServeOptions, 'cgiBin' | 'docroot' | 'passAuthorization' | 'quiet' | 'trace' | 'exposeStatus'> &
  Partial<Pick<ServeOptions, 'cgiBin' | 'docroot' | 'passAuthorization' | 'quiet' | 'trace' | 'exposeStatus'>>;

/** Options that mean something in one mode only: given in another, they are refused, never ignored. */
const modeOnly: Record<string, { flag: string; mode: ModeName }> = {
  spawn: { flag: '--spawn', mode: 'cgi' },
  processes: { flag: '--processes', mode: 'embedded' },
  workers: { flag: '--workers', mode: 'fastcgi' },
  pm: { flag: '--pm', mode: 'fastcgi' },
  maxRequests: { flag: '--max-requests', mode: 'fastcgi' },
  requestTimeout: { flag: '--request-timeout', mode: 'fastcgi' },
  fastcgiConnect: { flag: '--fastcgi-connect', mode: 'fastcgi' },
  trace: { flag: '--trace', mode: 'fastcgi' },
};

export const serveCommand = new Command('serve')
  .description('serve the docroot and run cgi-bin scripts in one of three process models')
  .addOption(new Option('--mode <mode>', 'process model: cgi (a process per request), fastcgi, embedded').default('cgi').argParser(parseChoice(modeNames)))
  .option('--host <address>', 'address to listen on', '127.0.0.1')
  .option('--port <n>', 'port to listen on (0 picks a free one)', parseInteger(0, 65535), 8080)
  .option('--cgi-bin <dir>', 'directory of scripts served under /cgi-bin/ (default ./cgi-bin if the current folder has one, else the shipped scripts)')
  .option(
    '--docroot <dir>',
    'directory of static files (default beside a ./cgi-bin: ./public if there is one, else the current folder; otherwise the shipped docs)',
  )
  .addOption(
    new Option(
      '--timeout <duration>',
      'time a request has to get its response head, its body upload included (408 if that was late); past it the script is killed (504)',
    )
      .default(30_000, formatDuration(30_000))
      .argParser(parseTimeLimit),
  )
  .addOption(
    new Option(
      '--idle-timeout <duration>',
      "once a response has begun, the longest a script may go without writing; past it the response is cut and the script killed (nginx's fastcgi_read_timeout)",
    )
      .default(60_000, formatDuration(60_000))
      .argParser(parseTimeLimit),
  )
  .option('--max-concurrency <n>', 'scripts running at once; past it clients get 503', parseInteger(1), 64)
  .addOption(
    new Option('--max-body <size>', 'largest request body accepted (413 past it)').default(10 * 1024 ** 2, formatSize(10 * 1024 ** 2)).argParser(parseSize),
  )
  .option('--pass-authorization', 'give scripts the Authorization header as HTTP_AUTHORIZATION')
  .addOption(
    new Option('--header-timeout <duration>', "time a client has to send a request's head; past it 408 (slowloris)")
      .default(defaultHeaderTimeoutMs, formatDuration(defaultHeaderTimeoutMs))
      .argParser(parseTimeLimit),
  )
  .option('--expose-status', 'serve /webhist/status and /webhist/events to every client, not only this machine (they name pids, scripts and paths)')
  .addOption(
    new Option(
      '--revalidate <duration>',
      "trust what the disk said about a script this long before looking again (PHP's opcache.revalidate_freq); 0 = every request",
    )
      .default(1000, formatDuration(1000))
      .argParser(parseDuration),
  )
  .addOption(new Option('--log <format>', 'access log format').choices(logFormats).default('clf'))
  .option('--quiet', 'no access log')
  .addOption(
    new Option('--spawn <way>', "cgi mode: start programs through the small spawn helper (helper, as Apache's mod_cgid) or by forking the server (node)")
      .default('helper')
      .argParser(parseChoice(['helper', 'node'] as const)),
  )
  .option(
    '--log-buffer <size>',
    "write the access log in batches of this size, or each second (nginx's buffer=); 0 = line by line; default 64k, or 0 on a terminal",
    parseSize,
  )
  .option(
    '--processes <n>',
    'embedded mode: server processes sharing the port, a stuck or dead one replaced (node:cluster, like Apache prefork)',
    parseInteger(1, 256),
    1,
  )
  .option(
    '--workers <n>',
    'fastcgi mode: worker processes per pool (pm.max_children); default: one per core less one for handlers (each serves many requests at once), 4 for php-cgi (one at a time)',
    parseInteger(1, 256),
  )
  .addOption(
    new Option('--pm <policy>', 'fastcgi mode: static (always --workers), dynamic (grow with load), ondemand (start at first request)')
      .choices(pmPolicies)
      .default('static'),
  )
  .option('--max-requests <n>', 'fastcgi mode: a worker retires after this many requests; 0 = never (pm.max_requests)', parseInteger(0), 0)
  .option('--request-timeout <duration>', "fastcgi mode: php-fpm's name for --timeout (request_terminate_timeout)", parseTimeLimit)
  .option(
    '--fastcgi-connect <address>',
    'fastcgi mode: send requests to an application already running at unix:PATH or tcp:HOST:PORT (php-fpm, spawn-fcgi) instead of our own pool',
  )
  .option('--trace', 'fastcgi mode: print every FastCGI record sent and received, one line each')
  .addHelpText(
    'after',
    `
Examples:
  webhist serve                                  CGI mode on http://127.0.0.1:8080/
  webhist serve --mode fastcgi --workers 2 --trace
  webhist serve --mode embedded --port 0 --cgi-bin ./my-scripts`,
  )
  .action(async (flags: ServeFlags, command: Command) => {
    // Before anything starts: the server's environment cut to what it needs (server-environment.ts).
    reexecWithServerEnvironment();
    for (const [key, { flag, mode }] of Object.entries(modeOnly)) {
      if (command.getOptionValueSource(key) === 'cli' && flags.mode !== mode)
        throw new UsageError(`${flag} is for --mode ${mode} (this is --mode ${flags.mode})`);
    }
    const folders = defaultFolders();
    const options: ServeOptions = {
      ...flags,
      cgiBin: resolve(flags.cgiBin ?? folders.cgiBin),
      docroot: resolve(flags.docroot ?? folders.docroot),
      timeout: flags.requestTimeout ?? flags.timeout,
      passAuthorization: Boolean(flags.passAuthorization),
      quiet: Boolean(flags.quiet),
      trace: Boolean(flags.trace),
      exposeStatus: Boolean(flags.exposeStatus),
    };
    await requireDirectory(options.cgiBin, `--cgi-bin ${flags.cgiBin ?? options.cgiBin}`);
    await requireDirectory(options.docroot, `--docroot ${flags.docroot ?? options.docroot}`);
    // On a terminal a person watches the log; into a file or a pipe it goes in batches, as nginx's buffer=64k flush=1s.
    const bufferBytes = options.logBuffer ?? (process.stdout.isTTY ? 0 : defaultLogBuffer.bytes);
    const buffer = bufferBytes > 0 ? { ...defaultLogBuffer, bytes: bufferBytes } : undefined;
    const logger = createLogger({ format: options.log, quiet: options.quiet, buffer });
    if (options.mode === 'embedded' && cluster.isPrimary) await (await import('../../modes/embedded/index.ts')).logRefusedScripts(options.cgiBin, logger);
    const announce = (url: string, pool = '', note?: string) =>
      process.stdout.write(
        `webhist ${paint.bold(options.mode)} mode on ${paint.cyan(url)}${pool}  ` +
          (note ? `${paint.dim(`(${note})`)} ` : '') +
          // The colour ends before the newline: a terminal that wraps keeps it off the next line.
          `${paint.dim(`(cgi-bin ${shown(options.cgiBin)}, docroot ${shown(options.docroot)}${folders.local ? ', from this folder' : ''}; Ctrl-C stops)`)}\n`,
      );
    if (options.processes > 1 && cluster.isPrimary) {
      // This process only supervises; each server process re-runs this command as a cluster worker.
      const { superviseProcesses } = await import('../../modes/embedded/cluster.ts');
      const { url } = await superviseProcesses({ processes: options.processes, stuckAfterMs: options.timeout, host: options.host, port: options.port, logger });
      announce(url, ` (${options.processes} processes)`);
      return;
    }
    const mode = await createMode(options, logger);
    const server = await startServer({
      mode,
      host: options.host,
      // Every process of a --processes pool listens on the one port its supervisor chose (cluster.ts).
      port: cluster.isWorker && process.env.WEBHIST_POOL_PORT ? Number(process.env.WEBHIST_POOL_PORT) : options.port,
      cgiBin: options.cgiBin,
      docroot: options.docroot,
      timeoutMs: options.timeout,
      idleTimeoutMs: options.idleTimeout,
      maxConcurrency: options.maxConcurrency,
      maxBody: options.maxBody,
      passAuthorization: options.passAuthorization,
      revalidateMs: options.revalidate,
      headerTimeoutMs: options.headerTimeout,
      exposeStatus: options.exposeStatus,
      logger,
    }).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE') throw new UsageError(`port ${options.port} on ${options.host} is in use (try --port 0)`);
      if (error.code === 'EACCES') throw new UsageError(`not allowed to listen on port ${options.port} (try a port above 1023)`);
      if (error.code === 'ENOTFOUND' || error.code === 'EAI_AGAIN')
        throw new UsageError(`--host ${options.host}: no such host name (try 127.0.0.1, or 0.0.0.0 for every interface)`);
      if (error.code === 'EADDRNOTAVAIL') throw new UsageError(`--host ${options.host}: not an address of this machine (try 127.0.0.1)`);
      throw error;
    });
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
    // Ready only once a SIGTERM would be a graceful stop: a supervisor may send one at once.
    if (cluster.isPrimary) announce(server.url, '', mode.note);
  });

/**
 * Only the mode that runs is loaded: a CGI server forks a process per request, and fork costs
 * more the more memory the parent has (measured: 1.2 ms of CPU per spawn at 57 MB RSS, 7.8 ms
 * at 266 MB), which is why Apache grew mod_cgid.
 */
async function createMode(options: ServeOptions, logger: Logger): Promise<Mode> {
  switch (options.mode) {
    case 'cgi':
      return (await import('../../modes/cgi/index.ts')).createCgiMode({ spawn: options.spawn, say: (message) => logger.error('warn', 'cgi', message) });
    case 'embedded':
      return (await import('../../modes/embedded/index.ts')).createEmbeddedMode({ logger, logFormat: options.log });
    case 'fastcgi':
      return (await import('../../modes/fastcgi/index.ts'))
        .createFastCgiMode({
          cgiBin: options.cgiBin,
          workers: options.workers,
          pm: options.pm,
          maxRequests: options.maxRequests,
          connect: options.fastcgiConnect,
          trace: options.trace,
          logger,
        })
        .catch((error: Error) => {
          throw new UsageError(error.message);
        });
  }
}

/** `given` is the flag and the path as the user wrote it, for the message. */
async function requireDirectory(dir: string, given: string): Promise<void> {
  const info = await stat(dir).catch(() => undefined);
  if (!info) throw new UsageError(`${given}: no such directory`);
  if (!info.isDirectory()) throw new UsageError(`${given}: a file, not a directory`);
}

function shown(dir: string): string {
  const rel = relative(process.cwd(), dir);
  if (!rel) return '.';
  return !rel.startsWith('..') ? `./${rel}` : dir;
}
