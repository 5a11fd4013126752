/**
 * The bench's result document, written by --json and read by the text and HTML reports. A number
 * is only worth what its context says, so the document carries the command, commit, machine and
 * Node version beside the raw per-run numbers. The schema is versioned: a change that removes or
 * renames a field bumps schemaVersion (bench/README.md documents each field).
 */
import { execFileSync } from 'node:child_process';
import { cpus, release, totalmem, type as osType } from 'node:os';
import { packageRoot } from '../../src/package-root.ts';
import { cpuGroupsAvailable } from '../process/cgroup.ts';
import { procAvailable } from '../../src/proc.ts';
import type { Failure, Measured, Skip } from './runner.ts';
import { ratios, sizeFits, summarize, type RatioResult, type ScenarioResult, type SizeFit } from './summary.ts';
import { whitepaper1996, type HistoricLine } from './whitepaper.ts';

const schemaVersion = 1;

export interface BenchReport {
  schemaVersion: typeof schemaVersion;
  /** The command line as given. */
  command: string;
  startedAt: string;
  finishedAt: string;
  /** `git rev-parse HEAD` as the run began and whether the work tree had changes; null outside a git checkout. */
  commit: { sha: string; dirty: boolean } | null;
  node: string;
  machine: { cpuModel: string; cpus: number; memoryBytes: number; kernel: string; arch: string };
  settings: {
    modes: string[];
    scripts: string[];
    connections: number[];
    sizes: number[];
    durationMs: number;
    warmupMs: number;
    runs: number;
    peers: boolean;
    validate: boolean;
    /** webhist's modes served with their access log on (buffered), not --quiet. Absent in older reports. */
    accessLog?: boolean;
  };
  /** What could not be measured on this machine, and why. */
  limits: string[];
  skipped: Skip[];
  failures: Failure[];
  scenarios: ScenarioResult[];
  ratios: RatioResult[];
  sizeFits: SizeFit[];
  whitepaper1996: readonly HistoricLine[];
}

export function buildReport(input: {
  command: string;
  startedAt: Date;
  commit: BenchReport['commit'];
  settings: BenchReport['settings'];
  limits: string[];
  measured: Measured[];
  skipped: Skip[];
  failures: Failure[];
}): BenchReport {
  const scenarios: ScenarioResult[] = input.measured.map(({ scenario: s, runs }) => ({
    id: s.id,
    target: { kind: s.target.kind, name: s.target.name, label: s.target.label },
    script: s.script,
    path: s.path,
    connections: s.connections,
    sizeKb: s.sizeKb,
    runs,
    summary: summarize(runs),
  }));
  const cpu = cpus();
  return {
    schemaVersion,
    command: input.command,
    startedAt: input.startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    commit: input.commit,
    node: process.version,
    machine: { cpuModel: cpu[0]?.model.trim() ?? 'unknown', cpus: cpu.length, memoryBytes: totalmem(), kernel: `${osType()} ${release()}`, arch: process.arch },
    settings: input.settings,
    limits: input.limits,
    skipped: input.skipped,
    failures: input.failures,
    scenarios,
    ratios: ratios(scenarios),
    sizeFits: sizeFits(scenarios),
    whitepaper1996,
  };
}

/** What this machine cannot measure, said up front rather than shown as zeros. */
export function machineLimits(): string[] {
  if (!procAvailable) {
    return [
      `no /proc on ${process.platform}: CPU per request, peak RSS and forks per request were not measured (req/s, latency and the harness's own CPU were)`,
    ];
  }
  if (!cpuGroupsAvailable()) {
    return [
      "the CPU of scripts their server does not wait for (fcgiwrap's: it ignores SIGCHLD): no cgroup v2 could be made here (root or a delegated subtree is needed), so CPU per request comes from the /proc tree, which misses them",
    ];
  }
  return [];
}

/** Read as the run begins: a run takes minutes, and the tree may change under it. */
export function gitCommit(): BenchReport['commit'] {
  const git = (...args: string[]) => execFileSync('git', args, { cwd: packageRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  try {
    return { sha: git('rev-parse', 'HEAD'), dirty: git('status', '--porcelain') !== '' };
  } catch {
    return null;
  }
}
