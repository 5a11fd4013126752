/**
 * Starting a server under test as a separate process with a clean environment, knowing when it
 * is ready, and stopping it with nothing left behind: SIGTERM to its process group, a grace
 * period, SIGKILL to whatever of its tree or session still lives, then a last look.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { procAvailable, readProcessTable, treeOf, type ProcStat } from '../../src/proc.ts';

export interface Launched {
  name: string;
  pid: number;
  child: ChildProcess;
  /** The last lines it printed on stdout and stderr, to say why it failed. */
  output(): string;
  exited: Promise<void>;
  hasExited(): boolean;
}

/** A server sees PATH and HOME only: a stray NODE_OPTIONS or NODE_EXTRA_CA_CERTS changes results. */
export function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of ['PATH', 'HOME']) if (process.env[name] !== undefined) env[name] = process.env[name];
  return env;
}

/** Finds a program on PATH, and in the sbin directories a non-root PATH often lacks. */
export function findProgram(name: string | RegExp): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'].filter(Boolean);
  const entries = (dir: string) => {
    try {
      return readdirSync(dir);
    } catch {
      return [];
    }
  };
  for (const dir of dirs) {
    // The highest of versioned names (php-fpm8.2 over php-fpm7.4).
    const found = typeof name === 'string' ? (existsSync(join(dir, name)) ? name : undefined) : entries(dir).filter((f) => name.test(f)).sort().at(-1);
    if (found) return join(dir, found);
  }
  return undefined;
}

const live = new Set<Launched>();

export function launch(name: string, command: string, args: string[], cwd?: string): Launched {
  // detached: a session and process group of its own, so the whole group can be signalled
  // and anything that escapes the tree is still found by its session id.
  const child = spawn(command, args, { env: cleanEnv(), cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  const keep = (chunk: Buffer) => (text = (text + chunk.toString('utf8')).slice(-4000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let done = false;
  const exited = new Promise<void>((resolve) => {
    child.once('error', (error) => {
      text += `\n${error.message}`;
      done = true;
      resolve();
    });
    child.once('exit', () => {
      done = true;
      resolve();
    });
  });
  const launched: Launched = { name, pid: child.pid ?? -1, child, output: () => text.trim(), exited, hasExited: () => done };
  live.add(launched);
  void exited.then(() => live.delete(launched));
  return launched;
}

/** Resolves with the first match of `pattern` in its stdout; rejects if it exits or takes too long. */
export function waitForOutput(launched: Launched, pattern: RegExp, timeoutMs = 15_000): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => finish(new Error(`${launched.name} was not ready after ${timeoutMs} ms: ${lastLine(launched)}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      // Colour codes are stripped in case the server decides its stdout is a terminal.
      out += chunk.toString('utf8').replace(/\x1b\[[0-9;]*m/g, '');
      const match = pattern.exec(out);
      if (match) finish(undefined, match);
    };
    const finish = (error?: Error, match?: RegExpExecArray) => {
      clearTimeout(timer);
      launched.child.stdout!.off('data', onData);
      if (match) resolve(match);
      else reject(error);
    };
    launched.child.stdout!.on('data', onData);
    void launched.exited.then(() => finish(new Error(`${launched.name} exited before it was ready: ${lastLine(launched)}`)));
  });
}

/** Polls until `url` answers 2xx; for servers with no ready line of their own. */
export async function waitForHttp(launched: Launched[], url: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  for (;;) {
    const gone = launched.find((l) => l.hasExited());
    if (gone) throw new Error(`${gone.name} exited before it was ready: ${lastLine(gone)}`);
    const status = await fetch(url, { signal: AbortSignal.timeout(1000) }).then(
      async (response) => (await response.arrayBuffer(), response.status),
      () => undefined,
    );
    if (status !== undefined && status >= 200 && status < 300) return;
    if (status !== undefined) last = `status ${status}`;
    if (Date.now() > deadline) throw new Error(`${url} was not ready after ${timeoutMs} ms (${last})`);
    await sleep(50);
  }
}

function lastLine(launched: Launched): string {
  return launched.output().split('\n').filter(Boolean).at(-1) ?? '(no output)';
}

export interface StopReport {
  /** Processes still alive after SIGTERM and the grace period, which needed SIGKILL. */
  killed: number;
  /** Processes alive even after SIGKILL: should always be none. */
  leftover: number[];
  /** False where /proc is missing: only the process groups could be checked. */
  treeChecked: boolean;
}

/** Stops servers and everything they started; says what needed force and what survived. */
export async function stopAll(launched: Launched[], graceMs = 5000): Promise<StopReport> {
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
