/**
 * `webhist bench`: the three modes (and, with --peers, the servers users would pick instead)
 * side by side, each server a separate process driven from this one. Collect, then print: a
 * progress line while it runs, the report at the end, --json and --html for keeps. This file only
 * declares the options; the harness is bench/harness/.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { constants, existsSync } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { modeNames } from '../mode.ts';
import { shippedCgiBin } from '../package-root.ts';
import type { BenchOptions } from '../../bench/harness/command.ts';
import { formatDuration, parseDuration, parseInteger, parseTimeLimit } from './options.ts';
import { UsageError } from './ui.ts';

/** A comma-separated list, each item checked by `item`. */
function list<T>(item: (text: string) => T) {
  return (text: string): T[] => {
    const items = text
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    if (!items.length) throw new InvalidArgumentError('give at least one value, separated by commas');
    return items.map((text) => {
      try {
        return item(text);
      } catch (error) {
        // In a list, say which item is wrong.
        if (items.length > 1 && error instanceof InvalidArgumentError) throw new InvalidArgumentError(`${text}: ${error.message}`);
        throw error;
      }
    });
  };
}

/** The modes, and `cgi-fork`: CGI mode without its spawn helper (--spawn node), for the before/after. */
const benchModes = [...modeNames, 'cgi-fork'];

function mode(text: string): string {
  if (!benchModes.includes(text)) throw new InvalidArgumentError(`choose one of ${benchModes.join(', ')}`);
  return text;
}

function script(text: string): string {
  if (!existsSync(join(shippedCgiBin, text))) throw new InvalidArgumentError(`no script ${text} in ${shippedCgiBin}`);
  return text;
}

const defaults = { modes: [...modeNames], scripts: ['hello.sh', 'hello.js'], connections: [1, 8], duration: 10_000, warmup: 2_000, runs: 3 };

/** How long a run of the default matrix measures, from the defaults themselves: scenarios × runs × (warm-up + window). */
const defaultScenarios = defaults.modes.length * defaults.scripts.length * defaults.connections.length;
const defaultSeconds = (defaultScenarios * defaults.runs * (defaults.warmup + defaults.duration)) / 1000;

/** Checked before a run that can take minutes, not after it: the folder exists and can be written. */
async function requireWritable(file: string | undefined, flag: string): Promise<void> {
  if (file === undefined) return;
  const info = await stat(file).catch(() => undefined);
  if (info?.isDirectory()) throw new UsageError(`${flag} ${file}: a directory, not a file`);
  const dir = dirname(resolve(file));
  if (!(await stat(dir).catch(() => undefined))?.isDirectory()) throw new UsageError(`${flag} ${file}: no such directory ${dir}`);
  await access(dir, constants.W_OK).catch(() => {
    throw new UsageError(`${flag} ${file}: cannot write in ${dir}`);
  });
}

export const benchCommand = new Command('bench')
  .description('benchmark the modes side by side (and, with --peers, lighttpd, nginx and php-fpm)')
  .option('--modes <list>', 'process models to run, comma-separated (cgi-fork: cgi mode forking the server, --spawn node)', list(mode), defaults.modes)
  .option('--scripts <list>', 'cgi-bin scripts to request, comma-separated', list(script), defaults.scripts)
  .option('--connections <list>', 'concurrent keep-alive connections, comma-separated', list(parseInteger(1, 10_000)), defaults.connections)
  .option('--sizes <list>', 'KB sizes for a size sweep with big.js and static files, e.g. 0,10,100 (none by default)', list(parseInteger(0, 100_000)), [])
  .addOption(
    new Option('--duration <time>', 'measured window per scenario and run')
      .default(defaults.duration, formatDuration(defaults.duration))
      .argParser(parseTimeLimit),
  )
  .addOption(
    new Option('--warmup <time>', 'load before the window, not counted').default(defaults.warmup, formatDuration(defaults.warmup)).argParser(parseDuration),
  )
  .option('--runs <n>', 'repetitions of every scenario (interleaved); the report gives medians', parseInteger(1, 100), defaults.runs)
  .option('--json <file>', 'write every number, with command, commit and machine, as JSON (schema: bench/README.md)')
  .option('--html <file>', 'write a self-contained HTML report with charts')
  .option(
    '--peers [list]',
    'also run node:http, lighttpd mod_cgi, nginx + fcgiwrap and nginx + php-fpm where installed (or only those named: node-http,lighttpd-cgi,...)',
    (value: string): boolean | string[] => value.split(',').filter(Boolean),
  )
  .option('--access-log', "serve webhist's modes with the access log on, buffered as nginx's buffer=64k, instead of --quiet")
  .option('--validate', 'after each measurement, run wrk at the same server and say whether the two agree within 10%')
  .addHelpText(
    'after',
    `
A plain \`webhist bench\` measures ${defaultScenarios} scenarios ${defaults.runs} times, ${formatDuration(defaults.warmup)} + ${formatDuration(defaults.duration)} each:
about ${Math.round(defaultSeconds / 60)} minutes, plus server start-ups. --runs 1 --duration 3s takes under a minute per mode.

Examples:
  webhist bench --modes cgi,fastcgi --runs 1 --duration 3s   a quick look
  webhist bench --json results.json --html report.html       keep every number, and charts
  webhist bench --peers                                       beside lighttpd, nginx and php-fpm`,
  )
  // The harness (autocannon, the HDR histogram's WebAssembly, the report renderers) loads only
  // when the command runs: every other command, the server above all, stays small.
  .action(async (options: BenchOptions) => {
    await requireWritable(options.html, '--html');
    await requireWritable(options.json, '--json');
    await (await import('../../bench/harness/command.ts')).runBenchCommand({
      ...options,
      peers: options.peers ?? false,
      accessLog: Boolean(options.accessLog),
      validate: Boolean(options.validate),
    });
  });
