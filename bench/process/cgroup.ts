/**
 * CPU of everything a server started, whether or not it waited for it: a cgroup (v2) of the
 * bench's own for each server while it is measured.
 *
 * Why the /proc tree is not enough: a process's cutime and cstime hold a child's CPU only once
 * it has waited for that child. fcgiwrap sets SIGCHLD to SIG_IGN, so the kernel reaps its
 * scripts itself and their CPU reaches no one: read from the tree, nginx + fcgiwrap cost
 * 0.23 ms a request for hello.sh, less than the fork and exec of sh alone. A cgroup counts the
 * CPU of every task that was in it, however it ended (cgroup v2's cpu.stat, usage_usec, which is
 * there with no controller enabled).
 *
 * Making one needs root or a delegated subtree; where none can be made, the bench falls back to
 * the tree and says what that cannot see (report.ts, machineLimits).
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CpuGroup {
  readonly path: string;
  /** Moves these processes into the group (what they start from now on is born in it); false if any could not move. */
  adopt(pids: readonly number[]): boolean;
  /** CPU time of every process that has been in the group, in nanoseconds. */
  cpuNs(): number;
  /** Moves what is still in it back to the bench's own cgroup, and removes it. */
  close(): void;
}

/** Where this process's cgroup v2 is (a pure v2 system, or the unified half of a hybrid one), if anywhere. */
function ownCgroup(): string | undefined {
  const mount = ['/sys/fs/cgroup', '/sys/fs/cgroup/unified'].find((dir) => existsSync(join(dir, 'cgroup.controllers')));
  if (!mount) return undefined;
  const line = readText('/proc/self/cgroup')
    ?.split('\n')
    .find((l) => l.startsWith('0::'));
  return line ? join(mount, line.slice(3)) : undefined;
}

let made = 0;

/** A new, empty group beside the bench, or undefined where none can be made (not root, no cgroup v2). */
export function openCpuGroup(): CpuGroup | undefined {
  const home = ownCgroup();
  if (!home) return undefined;
  const path = join(home, `webhist-bench-${process.pid}-${made++}`);
  try {
    mkdirSync(path);
  } catch {
    return undefined;
  }
  const adopted = new Set<number>();
  return {
    path,
    adopt(pids) {
      let all = true;
      for (const pid of pids) {
        if (adopted.has(pid)) continue;
        if (joinGroup(path, pid)) adopted.add(pid);
        else all = false;
      }
      return all;
    },
    cpuNs: () => usageNs(path),
    close() {
      for (const pid of procsOf(path)) joinGroup(home, pid);
      try {
        rmdirSync(path);
      } catch {
        // A process still on its way out: the empty group is left, named after the bench's pid.
      }
    },
  };
}

/** Whether cgroups can be made and joined here: asked once, by moving this process into one and back. */
export function cpuGroupsAvailable(): boolean {
  const probe = openCpuGroup();
  const joined = probe?.adopt([process.pid]) ?? false;
  probe?.close();
  return joined;
}

/** Moves a process into `group`; false if it cannot (ESRCH: it has exited, and has nothing more to count). */
function joinGroup(group: string, pid: number): boolean {
  try {
    writeFileSync(join(group, 'cgroup.procs'), String(pid));
    return true;
  } catch {
    return false;
  }
}

function procsOf(group: string): number[] {
  return (readText(join(group, 'cgroup.procs')) ?? '').split('\n').filter(Boolean).map(Number);
}

/** cpu.stat's usage_usec, in nanoseconds. */
export function usageNs(group: string): number {
  const match = /^usage_usec (\d+)$/m.exec(readText(join(group, 'cpu.stat')) ?? '');
  if (!match) throw new Error(`${group}/cpu.stat has no usage_usec line`);
  return Number(match[1]) * 1000;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
