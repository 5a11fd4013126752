/**
 * Collects a stream's output as lines (a line split across chunks is joined) and waits for a
 * line that matches: for the server's logs in-process and a child process's stderr alike.
 */
import { PassThrough, type Readable } from 'node:stream';

export interface Lines<S extends Readable> {
  stream: S;
  lines: string[];
  /** Resolves with the first match among lines from index `from` on (its `input` is the line), or rejects after `ms`. */
  waitFor(pattern: RegExp, ms: number, from?: number): Promise<RegExpExecArray>;
}

export function collectLines(): Lines<PassThrough>;
export function collectLines<S extends Readable>(stream: S): Lines<S>;
export function collectLines(stream: Readable = new PassThrough()): Lines<Readable> {
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  let partial = '';
  stream.setEncoding('utf8');
  stream.on('data', (text: string) => {
    const parts = (partial + text).split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts.filter(Boolean));
    for (const wake of waiters) wake();
  });
  const waitFor = (pattern: RegExp, ms: number, from = 0) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      const check = () => {
        for (const line of lines.slice(from)) {
          const match = pattern.exec(line);
          if (!match) continue;
          waiters.delete(check);
          clearTimeout(timer);
          return resolve(match);
        }
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`no line matched ${pattern} within ${ms}ms; lines since the mark:\n${lines.slice(from).join('\n')}`));
      }, ms);
      waiters.add(check);
      check();
    });
  return { stream, lines, waitFor };
}
