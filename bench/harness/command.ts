/**
 * What `webhist bench` does once its options are parsed (src/cli/bench.ts parses them): build
 * the scenarios, run them, and print and write the report.
 */
import { writeFile } from 'node:fs/promises';
import { renderHtml } from './html-report.ts';
import { killAllLaunched } from '../process/launch.ts';
import { peers } from './peers.ts';
import { createProgress } from './progress.ts';
import { buildReport, gitCommit, machineLimits } from './report.ts';
import { runBench, type Skip } from './runner.ts';
import { buildScenarios, sizedDocroot } from './scenarios.ts';
import { webhistTarget } from './targets.ts';
import { renderText } from './text-report.ts';
import { wrkPath } from './wrk.ts';
import { paint, UsageError } from '../../src/ui.ts';

/** The parsed options of `webhist bench`; the flags and their help are in src/cli/bench.ts. */
export interface BenchOptions {
  modes: string[];
  scripts: string[];
  connections: number[];
  sizes: number[];
  duration: number;
  warmup: number;
  runs: number;
  json?: string;
  html?: string;
  /** true: every peer; a list: those peers only. */
  peers: boolean | string[];
  validate: boolean;
  accessLog: boolean;
}

export async function runBenchCommand(options: BenchOptions): Promise<void> {
  if (options.duration < 1) throw new UsageError('--duration must be longer than 0');
  const startedAt = new Date();
  const commit = gitCommit();
  const limits = machineLimits();
  let validate = options.validate;
  if (validate && !wrkPath) {
    limits.push('--validate needs wrk, which is not installed (apt-get install wrk)');
    validate = false;
  }
  const found = options.peers ? peers(options.peers === true ? undefined : options.peers) : { available: [], missing: [] };
  const skippedPeers: Skip[] = found.missing.map((m) => ({ target: m.name, reason: m.reason }));
  const docroot = options.sizes.length ? await sizedDocroot(options.sizes) : undefined;
  const scenarios = buildScenarios({
    modes: options.modes.map((m) => webhistTarget(m, undefined, { accessLog: options.accessLog })),
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
      peers: options.peers !== false,
      validate: options.validate,
      accessLog: options.accessLog,
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
}
