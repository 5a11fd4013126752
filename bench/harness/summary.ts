/**
 * From raw runs to what a reader compares: per scenario the median and range of each measure
 * across runs; the ratios the project's issues target (webhist against the server a user would
 * pick instead), as the median of per-run ratios; and the size sweep's line per target.
 */
import { fitLine } from './linefit.ts';
import type { RunResult } from './runner.ts';
import { median, spread, type Spread } from './stats.ts';
import type { TargetKind } from './targets.ts';
import { quietMachineCores, wrkTolerance } from './wrk.ts';

/** One scenario of a report: what ran, every run's numbers, and their summary. */
export interface ScenarioResult {
  id: string;
  target: { kind: TargetKind; name: string; label: string };
  script: string;
  path: string;
  connections: number;
  sizeKb: number | null;
  runs: RunResult[];
  /** Absent when no run succeeded. */
  summary?: ScenarioSummary;
}

export interface ScenarioSummary {
  runs: number;
  reqPerSec: Spread;
  latencyMs: { mean: Spread; p50: Spread; p90: Spread; p99: Spread; max: Spread };
  /** Absent where /proc is missing. */
  cpuMsPerRequest?: Spread;
  peakRssBytes?: Spread;
  forksPerRequest?: Spread;
  harnessCpuCores: Spread;
  /** The load generator's own cost: harness CPU µs per response, and wrk's when it ran. */
  harnessUsPerRequest: Spread;
  wrkUsPerRequest?: Spread;
  otherCpuCores?: Spread;
  /** Totals over all runs. */
  responses: number;
  non2xx: number;
  errors: number;
  loadGeneratorBoundRuns: number;
  /** harness req/s ÷ wrk req/s, when --validate ran wrk. */
  wrkRatio?: Spread;
  /** Whether the median ratio is within 10% of 1. */
  wrkAgrees?: boolean;
  /** Comparisons made while other processes used a quarter of a core or more: inconclusive. */
  wrkBusyRuns?: number;
  /** Processes that needed SIGKILL at stop, and any that outlived it. */
  killed: number;
  leftover: number;
}

export function summarize(runs: readonly RunResult[]): ScenarioSummary | undefined {
  if (!runs.length) return undefined;
  const of = (pick: (r: RunResult) => number | null) => spread(runs.map(pick));
  const total = (pick: (r: RunResult) => number) => runs.reduce((sum, r) => sum + pick(r), 0);
  const wrk = runs.flatMap((r) => (r.wrk && 'ratio' in r.wrk ? [{ ...r.wrk, others: Math.max(r.otherCpuCores ?? 0, r.wrk.otherCpuCores ?? 0) }] : []));
  return {
    runs: runs.length,
    reqPerSec: of((r) => r.reqPerSec)!,
    latencyMs: {
      mean: of((r) => r.latencyMs.mean)!,
      p50: of((r) => r.latencyMs.p50)!,
      p90: of((r) => r.latencyMs.p90)!,
      p99: of((r) => r.latencyMs.p99)!,
      max: of((r) => r.latencyMs.max)!,
    },
    cpuMsPerRequest: of((r) => r.cpuMsPerRequest),
    peakRssBytes: of((r) => r.peakRssBytes),
    forksPerRequest: of((r) => r.forksPerRequest),
    harnessCpuCores: of((r) => r.harnessCpuCores)!,
    harnessUsPerRequest: of((r) => (r.harnessCpuCores * 1e6) / r.reqPerSec)!,
    wrkUsPerRequest: spread(wrk.map((w) => (w.wrkCpuCores === null ? null : (w.wrkCpuCores * 1e6) / w.reqPerSec))),
    otherCpuCores: of((r) => r.otherCpuCores),
    responses: total((r) => r.responses),
    non2xx: total((r) => r.non2xx),
    errors: total((r) => r.errors),
    loadGeneratorBoundRuns: runs.filter((r) => r.loadGeneratorBound).length,
    wrkRatio: spread(wrk.map((w) => w.ratio)),
    wrkAgrees: wrk.length ? Math.abs(median(wrk.map((w) => w.ratio)) - 1) <= wrkTolerance : undefined,
    wrkBusyRuns: wrk.length ? wrk.filter((w) => w.others >= quietMachineCores).length : undefined,
    killed: total((r) => r.stop.killed),
    leftover: total((r) => r.stop.leftover.length),
  };
}

/** The comparisons the project's issues set targets for: each webhist mode against its real-world counterpart. */
const comparisons = [
  { target: 'cgi', script: 'hello.sh', peer: 'lighttpd-cgi' },
  { target: 'cgi', script: 'hello.sh', peer: 'nginx-fcgiwrap' },
  { target: 'fastcgi', script: 'hello.js', peer: 'nginx-php-fpm' },
  // webhist's FastCGI application alone, behind the same nginx as php-fpm (issue 13).
  { target: 'nginx-webhist-worker', script: 'hello.js', peer: 'nginx-php-fpm' },
  { target: 'embedded', script: 'hello.js', peer: 'node-http' },
] as const;

export interface RatioResult {
  /** "webhist cgi hello.sh ÷ lighttpd mod_cgi" */
  label: string;
  numerator: string;
  denominator: string;
  connections: number;
  /** Per-run ratio of req/s (runs pair up: run i of both ran in the same round). */
  reqPerSec: Spread;
  cpuMsPerRequest?: Spread;
}

export function ratios(results: readonly ScenarioResult[]): RatioResult[] {
  const found: RatioResult[] = [];
  for (const c of comparisons) {
    for (const a of results.filter((r) => r.target.name === c.target && r.script === c.script && r.sizeKb === null)) {
      const b = results.find((r) => r.target.name === c.peer && r.connections === a.connections);
      if (!b) continue;
      const pairs = a.runs.flatMap((ra) => b.runs.filter((rb) => rb.run === ra.run).map((rb) => [ra, rb] as const));
      const perRun = (pick: (r: RunResult) => number | null) => spread(pairs.map(([ra, rb]) => (pick(ra) !== null && pick(rb) ? pick(ra)! / pick(rb)! : null)));
      const reqPerSec = perRun((r) => r.reqPerSec);
      if (!reqPerSec) continue;
      found.push({
        label: `${a.target.label} ${a.script} ÷ ${b.target.label}${b.script === a.script ? '' : ` ${b.script}`}`,
        numerator: a.id,
        denominator: b.id,
        connections: a.connections,
        reqPerSec,
        cpuMsPerRequest: perRun((r) => r.cpuMsPerRequest),
      });
    }
  }
  return found;
}

export interface SizeFit {
  target: string;
  label: string;
  /** Median over runs of the mean latency at each size, one connection. */
  points: { kb: number; meanMs: number }[];
  fixedMs: number;
  msPerKb: number;
  r2: number;
}

export function sizeFits(results: readonly ScenarioResult[]): SizeFit[] {
  const byTarget = Map.groupBy(
    results.filter((r) => r.sizeKb !== null && r.summary),
    (r) => r.target.name,
  );
  return [...byTarget.values()].flatMap((rows) => {
    const points = rows.map((r) => ({ kb: r.sizeKb!, meanMs: r.summary!.latencyMs.mean.median })).sort((a, b) => a.kb - b.kb);
    const line = fitLine(points.map((p) => ({ x: p.kb, y: p.meanMs })));
    if (!line) return [];
    return [{ target: rows[0]!.target.name, label: rows[0]!.target.label, points, fixedMs: line.fixed, msPerKb: line.slope, r2: line.r2 }];
  });
}
