/**
 * Numbers for people, shared by the text and HTML reports: three significant figures for times,
 * thousands separators for rates, MiB for memory, and the min–max range beside a median.
 */
import type { Spread } from './stats.ts';
import type { ScenarioResult, ScenarioSummary } from './summary.ts';

export function ms(value: number): string {
  if (value >= 100) return value.toFixed(0);
  if (value >= 10) return value.toFixed(1);
  if (value >= 1) return value.toFixed(2);
  return value.toFixed(3);
}

export function rate(value: number): string {
  return value >= 100 ? Math.round(value).toLocaleString('en-US') : value.toFixed(1);
}

export function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

export function ratio(value: number): string {
  return value >= 10 ? value.toFixed(0) : value.toFixed(2);
}

/** "hello.sh", "big.js 64 KB", or for a static file just "64 KB". */
export function scriptAndSize(s: Pick<ScenarioResult, 'script' | 'sizeKb' | 'target'>): string {
  if (s.sizeKb === null) return s.script;
  return s.target.kind === 'static' ? `${s.sizeKb} KB` : `${s.script} ${s.sizeKb} KB`;
}

/** "812 (790–830)", or just the median when all runs agree or there was one run; `unit` follows the median. */
export function ranged(s: Spread, show: (n: number) => string, unit = ''): string {
  const [lo, hi] = [show(s.min), show(s.max)];
  return lo === hi ? show(s.median) + unit : `${show(s.median)}${unit} (${lo}–${hi})`;
}

/** The speed columns both reports show: req/s with its spread, then p50, p90, p99 and max latency. */
export function speedCells(x: Pick<ScenarioSummary, 'reqPerSec' | 'latencyMs'>): string[] {
  return [ranged(x.reqPerSec, rate), ms(x.latencyMs.p50.median), ms(x.latencyMs.p90.median), ms(x.latencyMs.p99.median), ms(x.latencyMs.max.median)];
}
