/**
 * `webhist bench`: the three modes (and, with --peers, the servers users would pick instead)
 * side by side, each server a separate process driven from this one. Collect, then print: a
 * progress line while it runs, the report at the end, --json and --html for keeps. This file only
 * declares the options; the harness is bench/harness/.
 */
import { Command, InvalidArgumentError } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { modeNames } from '../mode.ts';
import { shippedCgiBin } from '../package-root.ts';
import type { BenchOptions } from '../../bench/harness/command.ts';
import { parseDuration, parseInteger } from './options.ts';

/** A comma-separated list, each item checked by `item`. */
function list<T>(item: (text: string) => T) {
  return (text: string): T[] => {
    const items = text
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    if (!items.length) throw new InvalidArgumentError('give at least one value, separated by commas');
    return items.map(item);
  };
}

function mode(text: string): string {
  if (!(modeNames as readonly string[]).includes(text)) throw new InvalidArgumentError(`"${text}" is not a mode: choose from ${modeNames.join(', ')}`);
  return text;
}

function script(text: string): string {
  if (!existsSync(join(shippedCgiBin, text))) throw new InvalidArgumentError(`no script ${text} in ${shippedCgiBin}`);
  return text;
}

export const benchCommand = new Command('bench')
  .description('benchmark the modes side by side (and, with --peers, lighttpd, nginx and php-fpm)')
  .option('--modes <list>', 'process models to run, comma-separated', list(mode), [...modeNames])
  .option('--scripts <list>', 'cgi-bin scripts to request, comma-separated', list(script), ['hello.sh', 'hello.js'])
  .option('--connections <list>', 'concurrent keep-alive connections, comma-separated', list(parseInteger(1, 10_000)), [1, 8])
  .option('--sizes <list>', 'KB sizes for a size sweep with big.js and static files, e.g. 0,10,100 (none by default)', list(parseInteger(0, 100_000)), [])
  .option('--duration <time>', 'measured window per scenario and run', parseDuration, 10_000)
  .option('--warmup <time>', 'load before the window, not counted', parseDuration, 2_000)
  .option('--runs <n>', 'repetitions of every scenario (interleaved); the report gives medians', parseInteger(1, 100), 3)
  .option('--json <file>', 'write every number, with command, commit and machine, as JSON (schema: bench/README.md)')
  .option('--html <file>', 'write a self-contained HTML report with charts')
  .option(
    '--peers [list]',
    'also run node:http, lighttpd mod_cgi, nginx + fcgiwrap and nginx + php-fpm where installed (or only those named: node-http,lighttpd-cgi,...)',
    (value: string): boolean | string[] => value.split(',').filter(Boolean),
    false as boolean | string[],
  )
  .option('--access-log', "serve webhist's modes with the access log on, buffered as nginx's buffer=64k, instead of --quiet", false)
  .option('--validate', 'after each measurement, run wrk at the same server and say whether the two agree within 10%', false)
  // The harness (autocannon, the HDR histogram's WebAssembly, the report renderers) loads only
  // when the command runs: every other command, the server above all, stays small.
  .action(async (options: BenchOptions) => (await import('../../bench/harness/command.ts')).runBenchCommand(options));
