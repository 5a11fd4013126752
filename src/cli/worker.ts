/**
 * `webhist worker`: webhist's FastCGI application on its own, for a web server someone else runs
 * (nginx's fastcgi_pass, libfcgi's cgi-fcgi) or a launcher (spawn-fcgi -- webhist worker).
 */
import { Command, Option } from 'commander';
import { stat } from 'node:fs/promises';
import { parseAddress } from '../fastcgi/address.ts';
import { shippedCgiBin } from '../package-root.ts';
import { createLogger } from '../server/log.ts';
import { parseInteger } from './options.ts';
import { reexecWithServerEnvironment } from './server-environment.ts';
import { paint, UsageError } from './ui.ts';

interface WorkerFlags {
  listen?: string;
  cgiBin: string;
  maxRequests: number;
  multiplex?: boolean;
  trace?: boolean;
}

export const workerCommand = new Command('worker')
  .description('run the FastCGI application: on --listen, or on the listening socket it was given as fd 0')
  .option('--listen <address>', 'unix:PATH or tcp:HOST:PORT (without it: fd 0, as under spawn-fcgi)')
  .addOption(new Option('--cgi-bin <dir>', 'the scripts it may run (SCRIPT_FILENAME must lie inside)').default(shippedCgiBin, 'the shipped scripts'))
  .option('--max-requests <n>', 'exit after this many requests, for a manager to replace; 0 = never', parseInteger(0), 0)
  .option('--multiplex', 'answer FCGI_MPXS_CONNS=1 and serve several requests on one connection')
  .option('--trace', 'print every FastCGI record received and sent, one line each')
  .addHelpText(
    'after',
    `
Examples:
  webhist worker --listen tcp:127.0.0.1:9000              for nginx's fastcgi_pass 127.0.0.1:9000
  webhist worker --listen unix:/tmp/webhist.sock --trace   every record, as nginx sends it
  spawn-fcgi -p 9000 -n -- "$(command -v webhist)" worker   on the socket spawn-fcgi opens (fd 0)`,
  )
  .action(async (flags: WorkerFlags) => {
    // The programs it runs can read its environ: only what it needs stays (server-environment.ts).
    reexecWithServerEnvironment();
    const cgiBin = await stat(flags.cgiBin).catch(() => undefined);
    if (!cgiBin) throw new UsageError(`--cgi-bin ${flags.cgiBin}: no such directory`);
    if (!cgiBin.isDirectory()) throw new UsageError(`--cgi-bin ${flags.cgiBin}: a file, not a directory`);
    if (flags.listen) parseAddress(flags.listen);
    // FastCGI §3.2: a web server may say which addresses may connect.
    const webServerAddrs = process.env.FCGI_WEB_SERVER_ADDRS?.split(',')
      .map((a) => a.trim())
      .filter(Boolean);
    const { startWorker } = await import('../../modes/fastcgi/worker.ts');
    const worker = await startWorker({
      ...flags,
      multiplex: Boolean(flags.multiplex),
      trace: Boolean(flags.trace),
      webServerAddrs,
      watchdog: true,
      logger: createLogger({ format: 'clf', quiet: true }),
    }).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE') throw new UsageError(`${flags.listen} is in use (a stale socket file? remove it)`);
      throw new UsageError(error.message);
    });
    process.stderr.write(`webhist worker ${process.pid} serving FastCGI on ${paint.cyan(worker.where)}\n`);
    const stop = () => void worker.close().then(() => process.exit(0));
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
