/**
 * `webhist bench`: the three modes (and, with --peers, the servers users would pick instead)
 * side by side, each server a separate process driven from this one. Collect, then print: a
 * progress line while it runs, the report at the end, --json and --html for keeps.
 */
import { Command, InvalidArgumentError } from 'commander';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { modeNames } from '../mode.ts';
import { shippedCgiBin } from '../package-root.ts';
import { renderHtml } from '../bench/html-report.ts';
import { killAllLaunched } from '../bench/launch.ts';
import { peers } from '../bench/peers.ts';
import { createProgress } from '../bench/progress.ts';
import { buildReport, gitCommit, machineLimits } from '../bench/report.ts';
import { runBench, type Skip } from '../bench/runner.ts';
import { buildScenarios, sizedDocroot } from '../bench/scenarios.ts';
import { webhistTarget } from '../bench/targets.ts';
import { renderText } from '../bench/text-report.ts';
import { wrkPath } from '../bench/wrk.ts';
import { parseDuration, parseInteger } from './options.ts';
import { paint, UsageError } from './ui.ts';

interface BenchOptions {
  modes: string[];
  scripts: string[];
  connections: number[];
  sizes: number[];
  duration: number;
  warmup: number;
  runs: number;
  json?: string;
  html?: string;
  peers: boolean;
  validate: boolean;
}

/** A comma-separated list, each item checked by `item`. */
function list<T>(item: (text: string) => T) {
  return (text: string): T[] => {
    const items = text.split(',').map((s) => s.trim()).filter(Boolean);
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
  .option('--peers', 'also run node:http, lighttpd mod_cgi, nginx + fcgiwrap and nginx + php-fpm where installed', false)
  .option('--validate', 'after each measurement, run wrk at the same server and say whether the two agree within 10%', false)
  .action(async (options: BenchOptions) => {
    if (options.duration < 1) throw new UsageError('--duration must be longer than 0');
    const startedAt = new Date();
    const commit = gitCommit();
    const limits = machineLimits();
    let validate = options.validate;
    if (validate && !wrkPath) {
      limits.push('--validate needs wrk, which is not installed (apt-get install wrk)');
      validate = false;
    }
    const found = options.peers ? peers() : { available: [], missing: [] };
    const skippedPeers: Skip[] = found.missing.map((m) => ({ target: m.name, reason: m.reason }));
    const docroot = options.sizes.length ? await sizedDocroot(options.sizes) : undefined;
    const scenarios = buildScenarios({
      modes: options.modes.map((m) => webhistTarget(m)),
      scripts: options.scripts,
      connections: options.connections,
      sizes: options.sizes,
      staticTarget: docroot && webhistTarget('cgi', docroot.dir),
      peers: found.available,
    });

    const settings = { durationMs: options.duration, warmupMs: options.warmup, runs: options.runs, validate };
    const progress = createProgress(settings);
    const interrupted = () => {
      progress.clear();
      killAllLaunched();
      process.stderr.write('webhist bench: interrupted; every server it started was killed\n');
      process.exit(130);
    };
    process.once('SIGINT', interrupted).once('SIGTERM', interrupted);
    const outcome = await runBench(scenarios, settings, progress.update).finally(async () => {
      progress.clear();
      process.off('SIGINT', interrupted).off('SIGTERM', interrupted);
      await docroot?.remove();
    });

    const report = buildReport({
      command: ['webhist', ...process.argv.slice(2)].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a}'`)).join(' '),
      startedAt,
      commit,
      settings: {
        modes: options.modes,
        scripts: options.scripts,
        connections: options.connections,
        sizes: options.sizes,
        durationMs: options.duration,
        warmupMs: options.warmup,
        runs: options.runs,
        peers: options.peers,
        validate: options.validate,
      },
      limits,
      measured: outcome.measured,
      skipped: [...skippedPeers, ...outcome.skipped],
      failures: outcome.failures,
    });
    process.stdout.write(renderText(report));
    if (options.json) {
      await writeFile(options.json, `${JSON.stringify(report, null, 2)}\n`);
      process.stdout.write(paint.dim(`wrote ${options.json}\n`));
    }
    if (options.html) {
      await writeFile(options.html, renderHtml(report));
      process.stdout.write(paint.dim(`wrote ${options.html}\n`));
    }
    const leftover = report.scenarios.some((s) => s.summary?.leftover);
    if (report.failures.length || leftover) process.exitCode = 1;
  });
