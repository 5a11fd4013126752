/**
 * What a lesson's check.ts declares (a Suite: the learner's files and an ordered list of
 * checks, basic first) and the context each check gets: a server on the learner's folder,
 * requests sent as bytes and recorded for the report, a seeded random source, and assertions
 * that compare protocol facts (status, named header fields, body) and fail with a reason that
 * says what to change.
 */
import type { ModeName } from '../mode.ts';
import type { ProbeRequest, ProbeResult } from './fastcgi-probe.ts';
import type { Started } from './processes.ts';
import type { Arrival, Exchange, Request, Response } from './wire.ts';

/** @public The shapes a lesson's check.ts works with, re-exported so that it needs one import. */
export type { Arrival, Exchange, ProbeRequest, ProbeResult, Request, Response, Started };

/** @public One check of a lesson (its check.ts exports a Suite of them). */
export interface Check {
  /** The task in lesson.json (1-based) this check belongs to: `hint` follows it. */
  task: number;
  title: string;
  /** Only in these modes; by default in every mode the lesson names. */
  modes?: ModeName[];
  run(t: CheckContext): Promise<void>;
}

/** @public A file the learner writes, as a lesson's check.ts names it. */
export interface LearnerFile {
  /** Relative to the learner's folder. A name ending in `.*` may have any extension, or none. */
  path: string;
  executable?: boolean;
}

export interface Suite {
  files: LearnerFile[];
  /** The server's --timeout for this lesson's scripts, when they run longer than most (default 5 s). */
  scriptTimeoutMs?: number;
  /** Runs before each mode's server starts; returns more `webhist serve` options (lesson 5: where the learner's responder listens). */
  beforeServe?(t: SetupContext): Promise<string[]>;
  checks: Check[];
}

export interface SetupContext {
  mode: ModeName;
  /** The learner's folder for this lesson. */
  dir: string;
  /** Resolved learner's files, by the path the suite declared. */
  files: Record<string, string>;
  random(): number;
  /** Starts a process (stopped when this mode's checks end). */
  start(command: string, args: string[], options?: { cwd?: string; env?: Record<string, string> }): Started;
  /** A TCP port free on 127.0.0.1 right now. */
  freePort(): Promise<number>;
  /** Resolves once something accepts connections on the port; rejects with `who`'s last words if it exits or takes too long. */
  waitForPort(port: number, who: Started): Promise<void>;
  /** A file of another lesson's folder, e.g. lessonFile(2, 'solution/cgi-bin/greet.sh'): a reference to compare with. */
  lessonFile(lesson: number, path: string): string;
  /** An empty folder, removed when this mode's checks end. */
  tempDir(): Promise<string>;
  note(line: string): void;
}

export interface CheckContext extends SetupContext {
  /** Base URL of the server, e.g. http://127.0.0.1:40123/ */
  url: string;
  port: number;
  /**
   * One request on its own connection; fails the check when no full response comes back. To
   * the lesson's server, or with `port` to a peer the check started (a learner's own server).
   */
  http(request: Request, options?: { timeoutMs?: number; port?: number }): Promise<Response>;
  /** Another `webhist serve` in this mode on the learner's folders, with more options (stopped when this mode's checks end). */
  serve(args: string[]): Promise<{ url: string; port: number }>;
  /** Bytes written as they are (several writes with `gapMs` between), the responses to `methods` parsed. */
  raw(
    bytes: Buffer | Buffer[],
    options: { methods: string[]; timeoutMs?: number; gapMs?: number; label?: string },
  ): Promise<{ exchange: Exchange; responses: Response[] }>;
  /** `webhist run` on a learner's file: the exact bytes it printed. */
  runScript(path: string, args: string[]): Promise<Buffer>;
  /** The server's error-log lines written since this check began. */
  errorLog(): string[];
  record(entry: Recorded): void;
  fail(reason: string): never;
  status(response: Response, expected: number, advice?: string): void;
  header(response: Response, name: string, expected: string | RegExp, advice?: string): string;
  noHeader(response: Response, name: string, advice?: string): void;
  body(response: Response, expected: string, advice?: string): void;
  /** `text` contains `part`; `what` names the text in the reason. */
  contains(text: string, part: string, what: string, advice?: string): void;
  expect(condition: unknown, reason: string): void;
  /** Ends the check as skipped, loudly, with the reason (a peer program that is not installed). */
  skip(reason: string): never;
  /** Requests straight to a FastCGI application, one after another on one kept connection. */
  fastcgi(port: number, requests: ProbeRequest[]): Promise<ProbeResult>;
  /** Runs a program to its end (bounded in time) and records its command line. */
  exec(
    command: string,
    args: string[],
    options?: { env?: Record<string, string>; input?: Buffer },
  ): Promise<{ stdout: Buffer; stderr: string; exitCode?: number; missing: boolean }>;
}

/** One request as the report shows it. */
export interface Recorded {
  label?: string;
  curl?: string;
  command?: string;
  sent?: Buffer;
  received?: Buffer;
  ended?: Exchange['ended'];
  error?: string;
}

/** A check that did not hold, with the reason for the learner. */
export class CheckFailure extends Error {
  override name = 'CheckFailure';
}

/** A check that could not run here (a program not installed); reported, never silent. */
export class CheckSkipped extends Error {
  override name = 'CheckSkipped';
}

/** The first difference between two texts, described for a person (with CR/LF spelled out). */
export function describeDifference(expected: string, actual: string): string {
  let i = 0;
  while (i < expected.length && i < actual.length && expected[i] === actual[i]) i++;
  const spell = (s: string) => JSON.stringify(s);
  if (i === actual.length && i < expected.length) {
    return `it ends too early: after ${spell(actual.slice(Math.max(0, i - 20)))} expected ${spell(expected.slice(i, i + 20))}`;
  }
  if (i === expected.length && i < actual.length)
    return `there is more than expected: ${spell(actual.slice(i, i + 40))} after ${spell(expected.slice(Math.max(0, i - 20)))}`;
  return `at character ${i + 1} expected ${spell(expected.slice(i, i + 20))}, got ${spell(actual.slice(i, i + 20))}`;
}

/** mulberry32: a small seeded generator, so "random" inputs repeat with the printed seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
