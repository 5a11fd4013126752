/**
 * `webhist serve`: the server in one of the three process models.
 */
import { Command, Option } from 'commander';
import { stat } from 'node:fs/promises';
import { relative } from 'node:path';
import { modeNames, type Mode, type ModeName } from '../mode.ts';
import { createCgiMode } from '../../modes/cgi.ts';
import { shippedCgiBin, shippedDocroot } from '../package-root.ts';
import { startServer } from '../server/index.ts';
import { createLogger, logFormats, type LogFormat } from '../server/log.ts';
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
  log: LogFormat;
  quiet: boolean;
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
  .addOption(new Option('--log <format>', 'access log format').choices(logFormats).default('clf'))
  .option('--quiet', 'no access log', false)
  .action(async (options: ServeOptions) => {
    await requireDirectory(options.cgiBin, '--cgi-bin');
    await requireDirectory(options.docroot, '--docroot');
    const logger = createLogger({ format: options.log, quiet: options.quiet });
    const mode = createMode(options.mode);
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
      logger,
    }).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE') throw new UsageError(`port ${options.port} on ${options.host} is in use (try --port 0)`);
      if (error.code === 'EACCES') throw new UsageError(`not allowed to listen on port ${options.port} (try a port above 1023)`);
      throw error;
    });
    process.stdout.write(
      `webhist ${paint.bold(options.mode)} mode on ${paint.cyan(server.url)}  ` +
        paint.dim(`(cgi-bin ${shown(options.cgiBin)}, docroot ${shown(options.docroot)}; Ctrl-C stops)\n`),
    );

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
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
  });

function createMode(name: ModeName): Mode {
  if (name === 'cgi') return createCgiMode();
  throw new UsageError(`--mode ${name} is not built yet: only cgi is available in this version`);
}

async function requireDirectory(dir: string, flag: string): Promise<void> {
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory()) throw new UsageError(`${flag} ${dir}: no such directory`);
}

function shown(dir: string): string {
  const rel = relative(process.cwd(), dir);
  return rel && !rel.startsWith('..') ? `./${rel}` : dir;
}
