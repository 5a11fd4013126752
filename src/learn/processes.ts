/**
 * Every process the checker starts: `webhist serve` on the learner's folder, `webhist run`, a
 * learner's own FastCGI responder. Each runs in a process group of its own with a clean
 * environment, is waited for by what it prints (never a fixed sleep), and is stopped by pid —
 * at the end of a check, and on Ctrl-C through stopAll().
 */
import { execa, type ResultPromise } from 'execa';
import { join } from 'node:path';
import { packageRoot } from '../package-root.ts';

export const webhistBin = join(packageRoot, 'bin', 'webhist.js');

export interface Started {
  pid: number;
  /** Every line it wrote to stderr so far (for a server, its error log). */
  stderrLines(): string[];
  stdoutText(): string;
  /** Resolves with the first match in its stdout; rejects if it exits first or after `ms`. */
  waitFor(pattern: RegExp, ms?: number): Promise<RegExpExecArray>;
  exited(): boolean;
  stop(): Promise<void>;
}

const live = new Set<Started>();

/** A server or script sees PATH and HOME, and no colour: its output is read by a program. */
function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = { NO_COLOR: '1', ...extra };
  for (const name of ['PATH', 'HOME']) if (process.env[name] !== undefined) env[name] = process.env[name]!;
  return env;
}

export function startProcess(command: string, args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Started {
  const child: ResultPromise = execa(command, args, {
    cwd: options.cwd,
    env: cleanEnv(options.env),
    extendEnv: false,
    detached: true,
    stdin: 'ignore',
    buffer: false,
    reject: false,
  });
  let out = '';
  let err = '';
  let done = false;
  const exit = child.then(() => {
    done = true;
  });
  child.stdout?.on('data', (chunk: Buffer) => (out = (out + chunk.toString('utf8')).slice(-64_000)));
  child.stderr?.on('data', (chunk: Buffer) => (err = (err + chunk.toString('utf8')).slice(-64_000)));
  const started: Started = {
    pid: child.pid ?? -1,
    stderrLines: () => err.split('\n').filter(Boolean),
    stdoutText: () => out,
    exited: () => done,
    waitFor(pattern, ms = 20_000) {
      return new Promise((resolve, reject) => {
        let settled = false;
        const finish = (then: () => void) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          child.stdout?.off('data', look);
          then();
        };
        const look = () => {
          const match = pattern.exec(out);
          if (match) finish(() => resolve(match));
          else if (done) finish(() => reject(new Error(`it exited before it was ready${err.trim() ? `: ${err.trim().split('\n').at(-1)}` : ''}`)));
        };
        const timer = setTimeout(() => finish(() => reject(new Error(`it printed no ready line within ${ms / 1000}s`))), ms);
        child.stdout?.on('data', look);
        void exit.then(look);
        look();
      });
    },
    async stop() {
      live.delete(started);
      if (done || started.pid < 0) return;
      signalGroup(started.pid, 'SIGTERM');
      const timer = setTimeout(() => signalGroup(started.pid, 'SIGKILL'), 3000);
      await exit;
      clearTimeout(timer);
      signalGroup(started.pid, 'SIGKILL'); // anything of its group left behind
    },
  };
  live.add(started);
  return started;
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

/** Stops every process still running (Ctrl-C, or a check that threw). */
export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((p) => p.stop()));
}

export interface Served extends Started {
  url: string;
  port: number;
}

/** `webhist serve --port 0` on the learner's folders, resolved once its ready line names the URL. */
export async function serve(mode: string, args: string[]): Promise<Served> {
  const started = startProcess(process.execPath, [webhistBin, 'serve', '--mode', mode, '--port', '0', ...args]);
  try {
    const match = await started.waitFor(/ mode on (http:\/\/127\.0\.0\.1:(\d+)\/)/);
    return { ...started, url: match[1]!, port: Number(match[2]) };
  } catch (error) {
    await started.stop();
    throw new Error(`webhist serve --mode ${mode} did not start: ${(error as Error).message}`);
  }
}

/** `webhist run --json SCRIPT …`: one request through a CGI script, no server. */
export async function runScript(
  file: string,
  args: string[],
  timeoutMs = 10_000,
): Promise<{ stdout: Buffer; stderr: string[]; exit: unknown } | { error: string }> {
  const result = await execa(process.execPath, [webhistBin, 'run', '--json', '--timeout', `${timeoutMs}ms`, file, ...args], {
    env: cleanEnv(),
    extendEnv: false,
    reject: false,
    timeout: timeoutMs + 10_000,
  });
  // `run` exits 1 when the script crashed or the server would answer 5xx, and still prints its
  // JSON: that is a result to check. No JSON at all means run itself refused (a missing file…).
  let json: { stdout: { encoding: 'utf8' | 'base64'; data: string }; stderr: string[]; exit: unknown };
  try {
    json = JSON.parse(String(result.stdout));
  } catch {
    return {
      error:
        String(result.stderr)
          .replace(/^webhist: /, '')
          .trim() || `webhist run exited ${result.exitCode}`,
    };
  }
  return { stdout: Buffer.from(json.stdout.data, json.stdout.encoding), stderr: json.stderr, exit: json.exit };
}
