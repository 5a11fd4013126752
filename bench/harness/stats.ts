/**
 * The few statistics the report needs. A bench run on a shared two-core machine has outliers
 * (a test suite starting next door, a GC pause), so results are medians with the min–max beside
 * them, never means of runs.
 */

export interface Spread {
  median: number;
  min: number;
  max: number;
}

/** The middle value; for an even count, the mean of the two middle ones. */
export function median(values: readonly number[]): number {
  if (!values.length) throw new Error('bench: the median of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Median and range of the values that were measured; undefined when none were. */
export function spread(values: readonly (number | null | undefined)[]): Spread | undefined {
  const known = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  if (!known.length) return undefined;
  return { median: median(known), min: Math.min(...known), max: Math.max(...known) };
}
