/**
 * The worker thread behind sampler.ts: scans /proc on a timer, keeps the peak RSS of the tree,
 * and answers each 'mark' with a fresh scan (CPU from the server's cgroup where it has one).
 */
import { readFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { clockTicks, parseProcStat, readMachineStat, readProcessTable, treeCpuTicks, treeOf, treeRssBytes } from '../../src/proc.ts';
import { usageNs } from '../process/cgroup.ts';
import type { TreeSample } from './sampler.ts';

const { roots, intervalMs, group } = workerData as { roots: number[]; intervalMs: number; group?: string };
let peak = 0;

function scan() {
  const tree = treeOf(readProcessTable(), roots);
  const rssBytes = treeRssBytes(tree);
  peak = Math.max(peak, rssBytes);
  return { tree, rssBytes };
}

setInterval(scan, intervalMs);

parentPort!.on('message', () => {
  const { tree, rssBytes } = scan();
  const machine = readMachineStat();
  const sample: TreeSample = {
    cpuTicks: group ? (usageNs(group) * clockTicks) / 1e9 : treeCpuTicks(tree),
    peakRssBytes: peak,
    processes: tree.length,
    machineBusyTicks: machine.busyTicks,
    forks: machine.forks,
    samplerTicks: ((t) => t.utime + t.stime)(parseProcStat(readFileSync('/proc/thread-self/stat', 'latin1'))),
  };
  peak = rssBytes;
  parentPort!.postMessage(sample);
});
