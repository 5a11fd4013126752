/**
 * Reading Linux /proc: one process's counters (/proc/PID/stat, proc(5)), the machine's CPU and
 * fork counters (/proc/stat), and the process tree under a server, with its CPU (utime, stime,
 * cutime, cstime) and RSS. The bench samples it; tests and process tooling ask who is alive.
 *
 * This kernel has no /proc/PID/task/TID/children (CONFIG_PROC_CHILDREN is optional), so a tree
 * is found the portable way: read every /proc/PID/stat and follow ppid. Where /proc is missing
 * (macOS, BSD), `procAvailable` is false and callers say what could not be measured.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';

export interface ProcStat {
  pid: number;
  comm: string;
  /** R running, S sleeping, Z zombie (exited, not yet reaped), ... */
  state: string;
  ppid: number;
  session: number;
  /** CPU in clock ticks: its own (utime, stime) and that of children it has reaped (cutime, cstime). */
  utime: number;
  stime: number;
  cutime: number;
  cstime: number;
  /** Clock ticks after boot when it started: with the pid, names one process even if pids are reused. */
  starttime: number;
  rssPages: number;
}

/** Parses one /proc/PID/stat line. comm may hold spaces and parentheses, so fields are counted from the last ')'. */
export function parseProcStat(text: string): ProcStat {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) throw new Error(`proc: not a /proc/PID/stat line: ${text.slice(0, 80)}`);
  // After ')': field 3 (state) is f[0], so field N of proc(5) is f[N - 3].
  const f = text
    .slice(close + 2)
    .trim()
    .split(' ');
  const n = (field: number) => Number(f[field - 3]);
  return {
    pid: Number(text.slice(0, open).trim()),
    comm: text.slice(open + 1, close),
    state: f[0] ?? '?',
    ppid: n(4),
    session: n(6),
    utime: n(14),
    stime: n(15),
    cutime: n(16),
    cstime: n(17),
    starttime: n(22),
    rssPages: n(24),
  };
}

export interface MachineStat {
  /** All CPUs' ticks not idle (user nice system irq softirq steal; guest is already inside user). */
  busyTicks: number;
  /** Processes and threads created since boot (the "processes" line), machine-wide. */
  forks: number;
}

/** Parses /proc/stat: the aggregate "cpu" line and the fork counter. */
export function parseMachineStat(text: string): MachineStat {
  const cpu = /^cpu\s+(.*)$/m.exec(text)?.[1]?.trim().split(/\s+/).map(Number);
  const forks = /^processes\s+(\d+)$/m.exec(text)?.[1];
  if (!cpu || forks === undefined) throw new Error('proc: /proc/stat has no "cpu" or "processes" line');
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = cpu;
  return { busyTicks: user + nice + system + irq + softirq + steal, forks: Number(forks) };
}

export const procAvailable = existsSync('/proc/self/stat') && existsSync('/proc/stat');

function getconf(name: string, fallback: number): number {
  try {
    const value = Number(execFileSync('getconf', [name], { encoding: 'utf8' }).trim());
    return Number.isFinite(value) && value > 0 ? value : fallback;
  } catch {
    return fallback;
  }
}

/** Clock ticks per second (USER_HZ) and bytes per page, which /proc counts in. */
export const clockTicks = procAvailable ? getconf('CLK_TCK', 100) : 100;
export const pageSize = procAvailable ? getconf('PAGESIZE', 4096) : 4096;

/** Every process now, by pid. A process that exits while we read is simply not there. */
export function readProcessTable(): Map<number, ProcStat> {
  const table = new Map<number, ProcStat>();
  for (const name of readdirSync('/proc')) {
    const stat = /^\d+$/.test(name) ? readProcess(Number(name)) : undefined;
    if (stat) table.set(stat.pid, stat);
  }
  return table;
}

/** One process's counters now, or undefined once it has gone (ENOENT/ESRCH: it exited while we looked). */
export function readProcess(pid: number): ProcStat | undefined {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'latin1'));
  } catch {
    return undefined;
  }
}

/** Alive and not a zombie (an orphan's zombie lingers where pid 1 does not reap it). */
export function isRunning(pid: number): boolean {
  const state = readProcess(pid)?.state;
  return state !== undefined && state !== 'Z' && state !== 'X';
}

/** Every process below `pid` now: its children first, then theirs. */
export function descendants(pid: number): number[] {
  return treeOf(readProcessTable(), [pid])
    .slice(1)
    .map((p) => p.pid);
}

export function readMachineStat(): MachineStat {
  return parseMachineStat(readFileSync('/proc/stat', 'latin1'));
}

/** The roots and all their descendants, by following ppid through the table. */
export function treeOf(table: ReadonlyMap<number, ProcStat>, roots: readonly number[]): ProcStat[] {
  const children = new Map<number, ProcStat[]>();
  for (const p of table.values()) {
    const siblings = children.get(p.ppid);
    if (siblings) siblings.push(p);
    else children.set(p.ppid, [p]);
  }
  const found: ProcStat[] = [];
  const queue = roots.flatMap((pid) => table.get(pid) ?? []);
  for (let p = queue.shift(); p; p = queue.shift()) {
    found.push(p);
    queue.push(...(children.get(p.pid) ?? []));
  }
  return found;
}

/** CPU of a tree, in ticks: each process's own time plus what it reaped from exited children. */
export function treeCpuTicks(tree: readonly ProcStat[]): number {
  return tree.reduce((sum, p) => sum + p.utime + p.stime + p.cutime + p.cstime, 0);
}

export function treeRssBytes(tree: readonly ProcStat[]): number {
  return tree.reduce((sum, p) => sum + p.rssPages, 0) * pageSize;
}
