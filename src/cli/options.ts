/**
 * Parsers for command-line values, each failing with a UsageError that says what was wrong.
 */
import { InvalidArgumentError } from 'commander';

const durationUnits: Record<string, number> = { ms: 1, s: 1000, m: 60_000 };

/** "30s", "500ms", "2m", or a bare number of seconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!match) throw new InvalidArgumentError('not a duration (try 30s, 500ms or 2m)');
  return Math.round(Number(match[1]) * durationUnits[match[2] ?? 's']!);
}

/** A time limit: a duration above zero (a limit of 0 would end every request before it began). */
export function parseTimeLimit(text: string): number {
  const ms = parseDuration(text);
  if (ms <= 0) throw new InvalidArgumentError('a time limit must be above 0 (try 30s)');
  return ms;
}

/** The other way round, for help and messages: 30000 → "30s", 600000 → "10m", 250 → "250ms". */
export function formatDuration(ms: number): string {
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms >= 1000 && ms % 1000 === 0) return `${ms / 1000}s`;
  return ms >= 1000 ? `${(ms / 1000).toFixed(1)}s` : `${ms}ms`;
}

const sizeUnits: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** "10m", "512k", or a number of bytes. */
export function parseSize(text: string): number {
  const match = /^(\d+)([kmg]?)b?$/i.exec(text.trim());
  if (!match) throw new InvalidArgumentError('not a size (try 10m, 512k or a number of bytes)');
  return Number(match[1]) * sizeUnits[match[2]!.toLowerCase()]!;
}

/** 10485760 → "10m", 524288 → "512k": how --max-body is written. */
export function formatSize(bytes: number): string {
  for (const unit of ['g', 'm', 'k'] as const) {
    if (bytes >= sizeUnits[unit]! && bytes % sizeUnits[unit]! === 0) return `${bytes / sizeUnits[unit]!}${unit}`;
  }
  return String(bytes);
}

export function parseInteger(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (text: string): number => {
    const value = Number(text);
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new InvalidArgumentError(`not a whole number from ${min} to ${max}`);
    }
    return value;
  };
}

export function parseChoice<T extends string>(choices: readonly T[]) {
  return (text: string): T => {
    if (!(choices as readonly string[]).includes(text)) throw new InvalidArgumentError(`choose one of ${choices.join(', ')}`);
    return text as T;
  };
}
