/**
 * Starting a server (webhist's, or a peer from a generated config) as a separate process with a
 * clean environment, knowing when it is ready, and stopping it with nothing left behind: SIGTERM
 * to its process group, a grace period, SIGKILL to whatever of its tree or session still lives,
 * then a last look. The bench harness and the tests both start their processes here, with execa;
 * the CGI hot path keeps node:child_process (measured: bench/spawn-vs-execa.ts).
 */
import { execa, type ResultPromise } from 'execa';
import { connect, type NetConnectOpts } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../src/io/listen.ts';
import { procAvailable, readProcessTable, treeOf, type ProcStat } from '../../src/proc.ts';

export interface Launched {
  name: string;
  /** Also its process group and session: it is started as their leader. */
  pid: number;
  subprocess: ResultPromise;
  /** What it printed so far, stdout and stderr together (the last MiB of it). */
  output(): string;
  /** Resolves with the first output line matching `pattern`; rejects if it exits first or after `ms`. */
  waitFor(pattern: RegExp, ms?: number): Promise<RegExpExecArray>;
  /** Its exit code, null when a signal ended it (or it never started). */
  exited: Promise<number | null>;
  hasExited(): boolean;
}

/** A server sees PATH and HOME only: a stray NODE_OPTIONS or NODE_EXTRA_CA_CERTS changes results. */
export function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of ['PATH', 'HOME']) if (process.env[name] !== undefined) env[name] = process.env[name];
  return env;
}

const live = new Set<Launched>();
const keptOutput = 1 << 20;

/** Starts `command` with exactly `env` (cleanEnv() unless given), in a session and process group of its own. */
export function launch(name: string, command: string, args: string[], options: { env?: Record<string, string>; cwd?: string } = {}): Launched {
  // detached: the whole group can be signalled, and anything that escapes the tree is still
  // found by its session id. buffer off: the output is read here as it comes, and kept bounded.
  const subprocess = execa(command, args, {
    env: options.env ?? cleanEnv(),
    extendEnv: false,
    cwd: options.cwd,
    detached: true,
    stdin: 'ignore',
    buffer: false,
    reject: false,
  });
  let text = '';
  let done = false;
  const listeners = new Set<() => void>();
  const wake = () => {
    for (const listener of listeners) listener();
  };
  const append = (chunk: Buffer | string) => {
    text += String(chunk);
    if (text.length > keptOutput) text = text.slice(-keptOutput / 2);
    wake();
  };
  subprocess.stdout?.on('data', append);
  subprocess.stderr?.on('data', append);
  // 'exit', not the end of its pipes: an orphan that escaped the tree may hold those open.
  const exited = new Promise<number | null>((resolve) => {
    subprocess.once('exit', (code) => resolve(code));
    void subprocess.then((result) => {
      if (result.failed && result.exitCode === undefined && !result.signal) append(`\n${result.shortMessage}`);
      resolve(result.exitCode ?? null);
    });
  });
  const launched: Launched = {
    name,
    pid: subprocess.pid ?? -1,
    subprocess,
    output: () => text.trim(),
    waitFor: (pattern, ms = 15_000) => waitForLine(launched, pattern, ms, listeners),
    exited,
    hasExited: () => done,
  };
  live.add(launched);
  void exited.then(() => {
    done = true;
    live.delete(launched);
    wake();
  });
  return launched;
}

function waitForLine(launched: Launched, pattern: RegExp, ms: number, listeners: Set<() => void>): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const finish = (error?: Error, match?: RegExpExecArray) => {
      listeners.delete(check);
      clearTimeout(timer);
      if (match) resolve(match);
      else reject(error);
    };
    const check = () => {
      // Colour codes are stripped in case the server decides its output is a terminal.
      for (const line of launched
        .output()
        .replace(/\x1b\[[0-9;]*m/g, '')
        .split('\n')) {
        const match = pattern.exec(line);
        if (match) return finish(undefined, match);
      }
      if (launched.hasExited()) finish(new Error(`${launched.name} exited before it was ready: ${lastLine(launched)}`));
    };
    const timer = setTimeout(() => finish(new Error(`${launched.name} was not ready after ${ms} ms: ${lastLine(launched)}`)), ms);
    listeners.add(check);
    check();
  });
}

function lastLine(launched: Launched): string {
  return launched.output().split('\n').filter(Boolean).at(-1) ?? '(no output)';
}

/** Polls until `url` answers 2xx; for servers with no ready line of their own. */
export async function waitForHttp(launched: Launched[], url: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  for (;;) {
    const gone = launched.find((l) => l.hasExited());
    if (gone) throw new Error(`${gone.name} exited before it was ready: ${lastLine(gone)}`);
    const status = await fetch(url, { signal: AbortSignal.timeout(1000) }).then(
      async (response) => {
        await response.arrayBuffer();
        return response.status;
      },
      () => undefined,
    );
    if (status !== undefined && status >= 200 && status < 300) return;
    if (status !== undefined) last = `status ${status}`;
    if (Date.now() > deadline) throw new Error(`${url} was not ready after ${timeoutMs} ms (${last})`);
    await sleep(50);
  }
}

/** Polls until something accepts connections at `where` (a unix socket or a port); fails if `launched` exits first. */
export async function waitForListener(where: NetConnectOpts, launched?: Launched, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const connects = () =>
    new Promise<boolean>((resolve) => {
      const socket = connect(where);
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
  for (;;) {
    if (launched?.hasExited()) throw new Error(`${launched.name} exited before it listened: ${lastLine(launched)}`);
    if (await connects()) return;
    if (Date.now() > deadline) throw new Error(`nothing listened at ${JSON.stringify(where)} within ${timeoutMs} ms`);
    await sleep(20);
  }
}
export { freePort };

export interface StopReport {
  /** Processes still alive after SIGTERM and the grace period, which needed SIGKILL. */
  killed: number;
  /** Processes alive even after SIGKILL: should always be none. */
  leftover: number[];
  /** False where /proc is missing: only the process groups could be checked. */
  treeChecked: boolean;
}

/** Stops servers and everything they started; says what needed force and what survived. */
export async function stop(launched: Launched[], graceMs = 5000): Promise<StopReport> {
  const roots = launched.map((l) => l.pid).filter((pid) => pid > 0);
  // Remember the tree now: once a parent is gone its orphans are reparented and the tree loses them.
  const tracked = procAvailable ? treeOf(readProcessTable(), roots) : [];
  for (const l of launched) signalGroup(l.pid, 'SIGTERM');
  const survivors = await untilGone(roots, tracked, graceMs);
  for (const pid of survivors) signal(pid, 'SIGKILL');
  for (const l of launched) signalGroup(l.pid, 'SIGKILL');
  const leftover = await untilGone(roots, tracked, 2000);
  // Let the roots' 'exit' events fire; unreferenced, a timer that loses the race keeps nothing open.
  await Promise.race([Promise.all(launched.map((l) => l.exited)), sleep(2000, undefined, { ref: false })]);
  return { killed: survivors.length, leftover, treeChecked: procAvailable };
}

/** Polls until every tracked process has exited or `ms` have passed; returns those still alive. */
async function untilGone(roots: number[], tracked: ProcStat[], ms: number): Promise<number[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const alive = stillAlive(roots, tracked);
    if (!alive.length || Date.now() >= deadline) return alive;
    await sleep(20);
  }
}

/** Tracked processes still running (same pid and start time; a zombie has already exited), and any in their sessions. */
function stillAlive(roots: number[], tracked: ProcStat[]): number[] {
  if (!procAvailable) return roots.filter((pid) => signal(-pid, 0));
  const table = readProcessTable();
  const alive = (p: ProcStat | undefined) => p !== undefined && p.state !== 'Z' && p.state !== 'X';
  const pids = new Set<number>();
  for (const p of tracked) if (alive(table.get(p.pid)) && table.get(p.pid)!.starttime === p.starttime) pids.add(p.pid);
  for (const p of table.values()) if (roots.includes(p.session) && alive(p)) pids.add(p.pid);
  return [...pids];
}

function signalGroup(pid: number, name: NodeJS.Signals): void {
  if (pid > 0 && !signal(-pid, name)) signal(pid, name);
}

function signal(pid: number, name: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, name);
    return true;
  } catch {
    return false; // ESRCH: already gone
  }
}

/** For an interrupted bench: kill every server still running, at once and synchronously. */
export function killAllLaunched(): void {
  for (const l of live) signalGroup(l.pid, 'SIGKILL');
}
