/**
 * Everything a reader must know before trusting a number, in words, for both reports: when the
 * load generator was the limit, what needed force to stop or outlived it, how busy the shared
 * machine was, what was skipped or failed, and what this machine cannot measure.
 */
import type { BenchReport } from './report.ts';
import { harnessShareOfServer, loadGeneratorLimitCores } from './runner.ts';

export interface Caveat {
  level: 'error' | 'warning' | 'info';
  text: string;
}

export function caveats(r: BenchReport): Caveat[] {
  const ran = r.scenarios.filter((s) => s.summary);
  const ids = (pick: (s: (typeof ran)[number]) => unknown) =>
    ran
      .filter(pick)
      .map((s) => s.id)
      .join(', ');
  const found: Caveat[] = [];
  const bound = ids((s) => s.summary!.loadGeneratorBoundRuns);
  if (bound) {
    found.push({
      level: 'warning',
      text:
        `the load generator, not the server, set the pace in: ${bound} (harness at ${loadGeneratorLimitCores} of a core or more; or every core ` +
        `busy and the harness using over ${harnessShareOfServer * 100}% of the server's CPU): read their req/s as a floor for the server`,
    });
  }
  const leftover = ids((s) => s.summary!.leftover);
  if (leftover) found.push({ level: 'error', text: `processes outlived SIGKILL after: ${leftover}` });
  const killed = ids((s) => s.summary!.killed);
  if (killed) found.push({ level: 'warning', text: `needed SIGKILL to stop (SIGTERM was not enough): ${killed}` });
  const other = Math.max(0, ...ran.map((s) => s.summary!.otherCpuCores?.max ?? 0));
  if (other >= 0.1) found.push({ level: 'info', text: `other processes on this machine used up to ${other.toFixed(2)} cores during a measured window` });
  for (const s of r.skipped) found.push({ level: 'warning', text: `skipped ${s.target}${s.script ? ` ${s.script}` : ''}: ${s.reason}` });
  for (const f of r.failures) found.push({ level: 'error', text: `failed ${f.scenario}, run ${f.run}: ${f.error}` });
  for (const limit of r.limits) found.push({ level: 'warning', text: `not measured: ${limit}` });
  if (ran.some((s) => s.summary!.forksPerRequest)) {
    found.push({
      level: 'info',
      text: 'forks/req is every fork and clone on the whole machine during the window (/proc/stat "processes"), threads included: a node child is one process and six threads; other work on the machine adds to it',
    });
  }
  return found;
}
