/**
 * Doc transcripts: every ```console block in the docs is a terminal session to replay.
 *
 * - `$ ` starts a command (a trailing `\` continues it); the lines after it, up to the next
 *   command, are its expected output (stdout and stderr as a terminal shows them, merged).
 * - `webhist …` and `npx webhist …` run this checkout's built CLI; anything else runs in bash.
 * - `127.0.0.1:8080` and `localhost:8080` in commands become the address of the server the
 *   transcript runs against, and that address is written back as `127.0.0.1:8080` in output.
 * - A command ending in `&` runs in the background until the transcript ends. A background
 *   `webhist serve` is started on port 0 and waited for (its ready line is its output); a
 *   transcript that starts no server gets a plain `webhist serve` of its own.
 * - In expected output, `[PORT]` and `[PID]` match a number, `[DATE]` a date as HTTP, ISO 8601
 *   or the access log writes it, `[...]` anything within a line, and a line `...` any number
 *   of lines. Trailing spaces do not count.
 *
 * Commands run in a scratch folder that links to this checkout's cgi-bin, docs, bin, dist and
 * node_modules, so what they write is thrown away with it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import MarkdownIt from 'markdown-it';
import { packageRoot } from '../../src/package-root.ts';

export interface Fence {
  /** The first word of the info string: console, sh, … */
  lang: string;
  /** The fence's content lines, without the fence's own indentation. */
  lines: string[];
  /** Line numbers (0-based) of the content in the file: [first, end). */
  start: number;
  end: number;
  indent: string;
}

export interface Step {
  command: string;
  expected: string[];
}

export interface StepResult extends Step {
  actual: string[];
  matches: boolean;
}

/** The fenced code blocks of a markdown file, with where their content lies. */
export function fencesOf(markdown: string): Fence[] {
  const lines = markdown.split('\n');
  return new MarkdownIt()
    .parse(markdown, {})
    .filter((token) => token.type === 'fence' && token.map)
    .map((token) => {
      const [open, close] = token.map!;
      const indent = /^\s*/.exec(lines[open]!)![0];
      const end = lines[close - 1]?.trim().startsWith(token.markup) ? close - 1 : close;
      return { lang: token.info.trim().split(/\s+/)[0] ?? '', lines: token.content.replace(/\n$/, '').split('\n'), start: open + 1, end, indent };
    });
}

/** A console block as commands and their expected output. */
export function stepsOf(lines: string[]): Step[] {
  const steps: Step[] = [];
  let continuing = false;
  for (const line of lines) {
    const step = steps.at(-1);
    if (continuing && step) {
      step.command += `\n${line}`;
      continuing = line.endsWith('\\');
    } else if (line.startsWith('$ ')) {
      steps.push({ command: line.slice(2), expected: [] });
      continuing = line.endsWith('\\');
    } else if (step) {
      step.expected.push(line);
    } else if (line.trim()) {
      throw new Error(`a console block must start with a "$ " command, not: ${line}`);
    }
  }
  return steps;
}

const wildcards: Record<string, string> = {
  '[PORT]': '\\d+',
  '[PID]': '\\d+',
  '[DATE]': '(?:\\w{3}, \\d{2} \\w{3} \\d{4} [\\d:]{8} GMT|\\d{4}-\\d{2}-\\d{2}T[\\d:.]+Z|\\d{2}/\\w{3}/\\d{4}:[\\d:]{8} [+-]\\d{4})',
  '[...]': '.*',
};

function linePattern(expected: string): RegExp {
  const parts = expected.split(/(\[PORT\]|\[PID\]|\[DATE\]|\[\.\.\.\])/);
  return new RegExp(`^${parts.map((part, i) => (i % 2 ? wildcards[part] : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('')}$`);
}

/** Does `actual` match `expected`, wildcards and `...` lines included? */
export function matchLines(expected: string[], actual: string[]): boolean {
  const trim = (lines: string[]) => lines.map((line) => line.trimEnd());
  const want = trim(expected);
  const got = trim(actual);
  const at = (i: number, j: number): boolean => {
    if (i === want.length) return j === got.length;
    if (want[i] === '...') {
      for (let k = j; k <= got.length; k++) if (at(i + 1, k)) return true;
      return false;
    }
    return j < got.length && linePattern(want[i]!).test(got[j]!) && at(i + 1, j + 1);
  };
  return at(0, 0);
}

/** Runs console blocks, each against servers of its own, in a scratch folder. */
export class TranscriptRunner {
  #dir = '';
  #background: ChildProcess[] = [];
  #port: number | undefined;

  async setUp(): Promise<void> {
    this.#dir = await mkdtemp(join(tmpdir(), 'webhist-transcript-'));
    for (const entry of ['cgi-bin', 'docs', 'bin', 'dist', 'node_modules', 'package.json']) {
      await symlink(join(packageRoot, entry), join(this.#dir, entry));
    }
    const shim = join(this.#dir, '.bin');
    await symlink(join(packageRoot, 'node_modules/.bin'), join(this.#dir, '.node-bin'));
    await mkdir(shim);
    await writeFile(join(shim, 'webhist'), `#!/bin/sh\nexec "${process.execPath}" "${join(packageRoot, 'bin/webhist.js')}" "$@"\n`);
    await chmod(join(shim, 'webhist'), 0o755);
    // In a terminal curl prints no progress meter (its output is the terminal); here it is a pipe.
    await writeFile(join(this.#dir, '.curlrc'), '--silent\n--show-error\n');
  }

  async tearDown(): Promise<void> {
    await this.stopBackground();
    await rm(this.#dir, { recursive: true, force: true });
  }

  /** Replays one block's steps, in order; background commands end with the block. */
  async run(steps: Step[]): Promise<StepResult[]> {
    const results: StepResult[] = [];
    try {
      if (!steps.some((step) => isBackgroundServe(step.command))) await this.#startServer('webhist serve');
      for (const step of steps) {
        const actual = await this.#runStep(step.command);
        results.push({ ...step, actual, matches: matchLines(step.expected, actual) });
      }
    } finally {
      await this.stopBackground();
    }
    return results;
  }

  async stopBackground(): Promise<void> {
    const running = this.#background.splice(0);
    await Promise.all(
      running.map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        signalGroup(child, 'SIGTERM');
        const killer = setTimeout(() => signalGroup(child, 'SIGKILL'), 10_000);
        await exited;
        clearTimeout(killer);
      }),
    );
    this.#port = undefined;
  }

  async #runStep(command: string): Promise<string[]> {
    const text = command.replace(/\bnpx webhist\b/g, 'webhist');
    if (isBackgroundServe(text)) return this.#startServer(text.replace(/&\s*$/, ''));
    const local = this.#port === undefined ? text : text.replace(/\b(?:127\.0\.0\.1|localhost):8080\b/g, `127.0.0.1:${this.#port}`);
    if (/&\s*$/.test(local)) {
      const child = this.#spawn(local.replace(/&\s*$/, ''));
      child.stdout!.resume(); // its output is not part of the transcript; redirect it to show it
      this.#background.push(child);
      return [];
    }
    const child = this.#spawn(local);
    let output = '';
    child.stdout!.on('data', (data) => (output += data));
    const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), 60_000);
    await new Promise((resolve) => child.once('close', resolve));
    clearTimeout(timer);
    return this.#linesOf(output);
  }

  /** `webhist serve …` on port 0 in the background; resolves to its output up to the ready line. */
  async #startServer(command: string): Promise<string[]> {
    const onPortZero = /--port\s+\S+/.test(command) ? command.replace(/--port\s+\S+/, '--port 0') : `${command.trimEnd()} --port 0`;
    const child = this.#spawn(onPortZero);
    this.#background.push(child);
    let output = '';
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ready line within 30 s from: ${command}\n${output}`)), 30_000);
      child.stdout!.on('data', (data) => {
        output += data;
        const ready = /on http:\/\/127\.0\.0\.1:(\d+)\//.exec(output);
        if (ready) {
          clearTimeout(timer);
          resolve(Number(ready[1]));
        }
      });
      child.once('exit', (code) => reject(new Error(`${command} exited ${code} before its ready line:\n${output}`)));
    });
    this.#port = port;
    return this.#linesOf(output.slice(0, output.indexOf('\n', output.indexOf(`:${port}/`)) + 1));
  }

  #spawn(command: string): ChildProcess {
    return spawn('bash', ['-c', `{ ${command}\n} 2>&1`], {
      cwd: this.#dir,
      detached: true, // its own process group, so everything it starts is stopped with it
      stdio: ['ignore', 'pipe', 'inherit'],
      env: {
        PATH: `${join(this.#dir, '.bin')}:${join(this.#dir, '.node-bin')}:${process.env.PATH}`,
        HOME: this.#dir,
        LANG: 'C.UTF-8',
        NO_COLOR: '1',
      },
    });
  }

  #linesOf(output: string): string[] {
    const local = this.#port === undefined ? output : output.replace(new RegExp(`\\b(127\\.0\\.0\\.1|localhost):${this.#port}\\b`, 'g'), '$1:8080');
    return local
      .replace(/\n$/, '')
      .split('\n')
      .map((line) => line.trimEnd())
      .filter((line, _i, all) => line !== '' || all.length > 1);
  }
}

function isBackgroundServe(command: string): boolean {
  return /^(?:npx )?webhist serve\b.*&\s*$/s.test(command.trim());
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    // already gone
  }
}

/** The block's text with each step's output replaced where it no longer matches. */
export function updatedBlock(results: StepResult[]): string[] {
  return results.flatMap((result) => [...`$ ${result.command}`.split('\n'), ...(result.matches ? result.expected : result.actual)]);
}
