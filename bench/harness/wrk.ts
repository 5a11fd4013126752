/**
 * The second opinion for --validate: wrk (a C load generator, one thread here) run at the
 * same server with the same connections and duration as the harness's own autocannon, so
 * anyone can check that the harness measures the server and not itself.
 */
import { execa } from 'execa';
import { clockTicks, procAvailable, readProcess } from '../../src/proc.ts';
import { cleanEnv } from '../process/launch.ts';
import { findProgram } from '../process/programs.ts';
import type { Sampler } from './sampler.ts';

export interface WrkResult {
  reqPerSec: number;
  requests: number;
  non2xx: number;
  /** connect + read + write + timeout errors. */
  socketErrors: number;
}

/**
 * How far the harness's req/s may be from wrk's and still agree: judged on the median ratio
 * across runs, because two consecutive windows on a shared machine can differ by more on their own.
 */
export const wrkTolerance = 0.1;
/** Below this much CPU used by others, the machine counts as quiet enough for the comparison to mean something. */
export const quietMachineCores = 0.25;

export type WrkCheck =
  | (WrkResult & {
      /** harness req/s ÷ wrk req/s */
      ratio: number;
      /** CPU wrk itself used, and what other processes used meanwhile (null without /proc). */
      wrkCpuCores: number | null;
      otherCpuCores: number | null;
    })
  | { error: string };

export const wrkPath = findProgram('wrk');

/**
 * Runs wrk right after the harness's window, at the same warm server, and compares. What else
 * ran on the machine meanwhile is measured too: windows taken one after the other on a busy
 * machine can differ by more than 10% for reasons that are neither load generator's.
 */
export async function checkWithWrk(url: string, connections: number, durationMs: number, ours: number, sampler?: Sampler): Promise<WrkCheck> {
  try {
    const before = await sampler?.mark();
    const children0 = reapedTicks();
    const self0 = process.cpuUsage();
    const t0 = performance.now();
    const wrk = await runWrk(url, connections, durationMs);
    const windowMs = performance.now() - t0;
    const self = process.cpuUsage(self0);
    const after = await sampler?.mark();
    const ms = (ticks: number) => (ticks * 1000) / clockTicks;
    const wrkMs = procAvailable ? ms(reapedTicks() - children0) : null;
    const others =
      before && after && wrkMs !== null
        ? ms(after.machineBusyTicks - before.machineBusyTicks - (after.cpuTicks - before.cpuTicks)) - wrkMs - (self.user + self.system) / 1000
        : null;
    const ratio = ours / wrk.reqPerSec;
    return {
      ...wrk,
      ratio,
      wrkCpuCores: wrkMs === null ? null : wrkMs / windowMs,
      otherCpuCores: others === null ? null : Math.max(0, others) / windowMs,
    };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

/** CPU of the harness's reaped children (cutime + cstime): after wrk exits, that is where its CPU is. */
function reapedTicks(): number {
  if (!procAvailable) return 0;
  const self = readProcess(process.pid);
  return self ? self.cutime + self.cstime : 0;
}

export async function runWrk(url: string, connections: number, durationMs: number): Promise<WrkResult> {
  if (!wrkPath) throw new Error('wrk is not installed (apt-get install wrk)');
  const seconds = Math.max(1, Math.round(durationMs / 1000));
  const { stdout } = await execa(wrkPath, ['-t1', `-c${connections}`, `-d${seconds}s`, url], { env: cleanEnv(), extendEnv: false });
  return parseWrk(stdout);
}

/** Reads wrk's summary. Its "Non-2xx or 3xx" and "Socket errors" lines appear only when non-zero. */
export function parseWrk(text: string): WrkResult {
  const rate = /Requests\/sec:\s+([\d.]+)/.exec(text)?.[1];
  const requests = /(\d+) requests in /.exec(text)?.[1];
  if (rate === undefined || requests === undefined) throw new Error(`bench: cannot read wrk's output: ${text.trim().split('\n').at(-1)}`);
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text)?.slice(1) ?? [];
  return {
    reqPerSec: Number(rate),
    requests: Number(requests),
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(text)?.[1] ?? 0),
    socketErrors: errors.reduce((sum, n) => sum + Number(n), 0),
  };
}
