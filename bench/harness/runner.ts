/**
 * Runs the matrix: for each run, every scenario in turn (runs interleaved, so a noisy minute on
 * a shared machine spreads over all scenarios instead of sinking one). Each measurement starts
 * a fresh server, checks the script answers 2xx, warms up, measures, optionally asks wrk for a
 * second opinion, and stops the server, recording anything that had to be killed or survived.
 */
import { availableParallelism } from 'node:os';
import { startSampler, type TreeSample } from './sampler.ts';
import { driveLoad, type LoadWindow } from './load.ts';
import { clockTicks } from '../../src/proc.ts';
import type { ProgressState } from './progress.ts';
import type { Scenario } from './scenarios.ts';
import { Unavailable } from './targets.ts';
import type { StopReport } from '../process/launch.ts';
import { checkWithWrk, type WrkCheck } from './wrk.ts';

export interface BenchSettings {
  durationMs: number;
  warmupMs: number;
  runs: number;
  /** Run wrk after each measurement against the same server. */
  validate: boolean;
}

/**
 * When the load generator, not the server, set the pace: judged from CPU, which a noisy machine
 * disturbs far less than throughput. autocannon runs on one thread, so near one core it is
 * saturated. And on a saturated machine (every core busy) the CPU the harness uses is CPU the
 * server could not have; past a quarter of the server's own, the number describes the pair.
 * A heuristic: --validate (wrk, two to three times cheaper per request) is the real check.
 */
export const loadGeneratorLimitCores = 0.8;
const saturatedMachine = 0.9;
export const harnessShareOfServer = 0.25;

export interface RunResult extends LoadWindow {
  run: number;
  reqPerSec: number;
  /** CPU of the server's whole tree in the window (null without /proc), and per response. */
  treeCpuMs: number | null;
  cpuMsPerRequest: number | null;
  peakRssBytes: number | null;
  /** Processes in the tree as the window closed. */
  processes: number | null;
  /** Processes and threads created machine-wide in the window (/proc/stat), and per response. */
  forks: number | null;
  forksPerRequest: number | null;
  /** CPU of the load generator alone (the harness process less its /proc sampler thread), and of the sampler, in cores. */
  harnessCpuCores: number;
  samplerCpuCores: number | null;
  /** CPU the whole machine used in the window, and what of it was neither the server nor the harness, in cores. */
  machineBusyCores: number | null;
  otherCpuCores: number | null;
  loadGeneratorBound: boolean;
  wrk?: WrkCheck;
  /** The server's root processes, and how stopping them went. */
  serverPids: number[];
  stop: StopReport;
}

export interface Measured {
  scenario: Scenario;
  runs: RunResult[];
}

export interface Skip {
  target: string;
  script?: string;
  reason: string;
}

export interface Failure {
  scenario: string;
  run: number;
  error: string;
}

/** The server runs, but answers the scenario's path with something other than 2xx. */
class ScriptRefused extends Unavailable {}

export async function runBench(
  scenarios: Scenario[],
  settings: BenchSettings,
  progress: (state: ProgressState) => void,
): Promise<{ measured: Measured[]; skipped: Skip[]; failures: Failure[] }> {
  const measured: Measured[] = scenarios.map((scenario) => ({ scenario, runs: [] }));
  const skipped = new Map<string, Skip>();
  const failures: Failure[] = [];
  const steps = scenarios.length * settings.runs;
  for (let run = 1; run <= settings.runs; run++) {
    for (const [index, m] of measured.entries()) {
      const { target, script, id } = m.scenario;
      if (skipped.has(target.name) || skipped.has(`${target.name} ${script}`)) continue;
      const step = (run - 1) * scenarios.length + index + 1;
      const report = (phase: ProgressState['phase'], elapsedMs = 0, responses = 0) =>
        progress({ step, steps, id, run, runs: settings.runs, phase, elapsedMs, responses });
      try {
        m.runs.push(await measureOnce(m.scenario, run, settings, report));
      } catch (error) {
        const reason = (error as Error).message;
        if (error instanceof ScriptRefused) skipped.set(`${target.name} ${script}`, { target: target.name, script, reason });
        else if (error instanceof Unavailable) skipped.set(target.name, { target: target.name, reason });
        else failures.push({ scenario: id, run, error: reason });
      }
    }
  }
  return { measured, skipped: [...skipped.values()], failures };
}

async function measureOnce(
  scenario: Scenario,
  run: number,
  settings: BenchSettings,
  report: (phase: ProgressState['phase'], elapsedMs?: number, responses?: number) => void,
): Promise<RunResult> {
  report('start');
  const running = await scenario.target.start();
  const url = new URL(scenario.path, running.baseUrl).href;
  let measured: Omit<RunResult, 'stop' | 'serverPids'> | undefined;
  let failure: unknown;
  try {
    await preflight(url, scenario);
    const sampler = await startSampler(running.launched.map((l) => l.pid));
    const marks: TreeSample[] = [];
    const mark = async () => sampler && marks.push(await sampler.mark());
    try {
      const window = await driveLoad({
        url,
        connections: scenario.connections,
        warmupMs: settings.warmupMs,
        durationMs: settings.durationMs,
        atWindowStart: mark,
        atWindowEnd: mark,
        onProgress: report,
      });
      measured = derive(run, window, marks[0], marks[1]);
      if (settings.validate) {
        report('validate');
        measured.wrk = await checkWithWrk(url, scenario.connections, settings.durationMs, measured.reqPerSec, sampler);
      }
    } finally {
      await sampler?.close();
    }
  } catch (error) {
    failure = error;
  }
  report('stop');
  const stop = await running.stop();
  if (failure || !measured) throw failure;
  return { ...measured, serverPids: running.launched.map((l) => l.pid), stop };
}

/** One request before the load: a script the target refuses (embedded mode and a shell script) is skipped, not benchmarked. */
async function preflight(url: string, scenario: Scenario): Promise<void> {
  const response = await fetch(url, { signal: AbortSignal.timeout(30_000) });
  const body = await response.text();
  if (response.ok) return;
  const line = body.trim().split('\n')[0] ?? '';
  const why = line.length > 200 ? `${line.slice(0, 200).replace(/\s\S*$/, '')} …` : line;
  throw new ScriptRefused(`${scenario.target.label} answered ${response.status} for ${scenario.path}${why ? `: ${why}` : ''}`);
}

function derive(run: number, window: LoadWindow, before?: TreeSample, after?: TreeSample): Omit<RunResult, 'stop' | 'serverPids'> {
  const windowMs = window.seconds * 1000;
  const perResponse = (n: number | null) => (n === null || !window.responses ? null : n / window.responses);
  const ticksMs = (ticks: number) => (ticks * 1000) / clockTicks;
  const treeCpuMs = before && after ? ticksMs(after.cpuTicks - before.cpuTicks) : null;
  const forks = before && after ? after.forks - before.forks : null;
  const samplerMs = before && after ? ticksMs(after.samplerTicks - before.samplerTicks) : null;
  const harnessCpuCores = window.processCpuCores - (samplerMs ?? 0) / windowMs;
  const processMs = window.processCpuCores * windowMs;
  const busyMs = before && after ? ticksMs(after.machineBusyTicks - before.machineBusyTicks) : null;
  const otherCpuCores = busyMs !== null && treeCpuMs !== null ? Math.max(0, busyMs - treeCpuMs - processMs) / windowMs : null;
  const crowdedOut =
    busyMs !== null && treeCpuMs !== null && busyMs >= saturatedMachine * availableParallelism() * windowMs && processMs >= harnessShareOfServer * treeCpuMs;
  return {
    run,
    ...window,
    reqPerSec: window.responses / window.seconds,
    treeCpuMs,
    cpuMsPerRequest: perResponse(treeCpuMs),
    peakRssBytes: after?.peakRssBytes ?? null,
    processes: after?.processes ?? null,
    forks,
    forksPerRequest: perResponse(forks),
    harnessCpuCores,
    samplerCpuCores: samplerMs === null ? null : samplerMs / windowMs,
    machineBusyCores: busyMs === null ? null : busyMs / windowMs,
    otherCpuCores,
    loadGeneratorBound: harnessCpuCores >= loadGeneratorLimitCores || crowdedOut,
  };
}
