/**
 * The bench's CPU count for a server whose children are reaped by the kernel, not waited for
 * (fcgiwrap ignores SIGCHLD): the /proc tree never sees their CPU, the server's cgroup does.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { cpuGroupsAvailable, openCpuGroup } from '../bench/process/cgroup.ts';
import { clockTicks, procAvailable, readProcessTable, treeCpuTicks, treeOf } from '../src/proc.ts';

const skip = !procAvailable ? 'no /proc here' : !cpuGroupsAvailable() && 'no cgroup v2 can be made here (the bench needs root or a delegated subtree for one)';
if (skip) console.warn(`SKIPPING the cgroup CPU test: ${skip}`);

// A parent that ignores SIGCHLD, as fcgiwrap does; on a line from stdin it forks a child that
// burns CPU and prints its own CPU time (times(2), in seconds) as it ends; the parent says "done"
// once the child has gone, and waits to be killed.
const parent = `
$SIG{CHLD} = 'IGNORE';
$| = 1;
<STDIN>;
if (!fork) { my $i = 0; $i++ while $i < 4e6; my ($u, $s) = times; print "child ", $u + $s, "\\n"; exit 0 }
1 while wait != -1;
print "done\\n";
sleep 60;
`;

describe("the CPU of a server's processes", { skip }, () => {
  it('counts, through its cgroup, a child its server never waited for, which the /proc tree misses', async () => {
    const server = spawn('perl', ['-e', parent], { stdio: ['pipe', 'pipe', 'inherit'] });
    const group = openCpuGroup()!;
    try {
      group.adopt([server.pid!]);
      const treeTicks = () => treeCpuTicks(treeOf(readProcessTable(), [server.pid!]));
      const [groupBefore, treeBefore] = [group.cpuNs(), treeTicks()];
      let output = '';
      server.stdout.on('data', (chunk: Buffer) => (output += chunk));
      server.stdin.write('go\n');
      while (!output.includes('done\n')) await once(server.stdout, 'data');
      const childSeconds = Number(/child (\S+)/.exec(output)![1]);
      assert.ok(childSeconds > 0, `the child burned some CPU (${childSeconds} s)`);
      const groupSeconds = (group.cpuNs() - groupBefore) / 1e9;
      const treeSeconds = (treeTicks() - treeBefore) / clockTicks;
      // times(2) counts in clock ticks: the group's count is at least the child's, less one tick.
      assert.ok(groupSeconds >= childSeconds - 1 / clockTicks, `the group counted ${groupSeconds} s for a child that used ${childSeconds} s`);
      assert.ok(treeSeconds < childSeconds / 2, `the tree counted ${treeSeconds} s: it cannot see the child, which nobody waited for`);
    } finally {
      server.kill('SIGKILL');
      await once(server, 'exit');
      group.close();
    }
  });
});
