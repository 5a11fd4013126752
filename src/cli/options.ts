/**
 * Parsers for command-line values, each failing with a UsageError that says what was wrong.
 */
import { InvalidArgumentError } from 'commander';

const durationUnits: Record<string, number> = { ms: 1, s: 1000, m: 60_000 };

/** "30s", "500ms", "2m", or a bare number of seconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!match) throw new InvalidArgumentError(`"${text}" is not a duration (try 30s, 500ms or 2m)`);
  return Math.round(Number(match[1]) * durationUnits[match[2] ?? 's']!);
}

const sizeUnits: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** "10m", "512k", or a number of bytes. */
export function parseSize(text: string): number {
  const match = /^(\d+)([kmg]?)b?$/i.exec(text.trim());
  if (!match) throw new InvalidArgumentError(`"${text}" is not a size (try 10m, 512k or a number of bytes)`);
  return Number(match[1]) * sizeUnits[match[2]!.toLowerCase()]!;
}

export function parseInteger(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (text: string): number => {
    const value = Number(text);
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new InvalidArgumentError(`"${text}" is not a whole number from ${min} to ${max}`);
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
