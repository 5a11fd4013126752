/**
 * Samples a server's process tree while load runs: CPU (before and after the measured window)
 * and resident memory (every 100 ms, for the peak). It runs in a worker thread because reading
 * every /proc/PID/stat takes a few milliseconds here: done on the load generator's event loop,
 * each scan would hold back responses and show up as server latency.
 */
import { extname } from 'node:path';
import { Worker } from 'node:worker_threads';
import { procAvailable, readProcessTable, treeOf } from '../../src/proc.ts';
import { openCpuGroup } from '../process/cgroup.ts';

export interface TreeSample {
  /** CPU of the server's processes, in clock ticks: its cgroup's where the bench could make one
   *  (bench/process/cgroup.ts: every process it started, waited for or not), else
   *  utime+stime+cutime+cstime over the tree. */
  cpuTicks: number;
  /** The largest tree RSS seen since the previous mark (this sample included). */
  peakRssBytes: number;
  processes: number;
  /** The machine's busy CPU ticks and fork counter (/proc/stat), for what else ran meanwhile. */
  machineBusyTicks: number;
  forks: number;
  /** CPU of the sampler's own thread, so the harness can tell its load generator's cost from its own. */
  samplerTicks: number;
}

export interface Sampler {
  /** Scans now; returns the counters and the peak since the previous mark. */
  mark(): Promise<TreeSample>;
  close(): Promise<void>;
}

const workerFile = new URL(`./sampler-worker${extname(import.meta.url)}`, import.meta.url);

/** Starts sampling the trees under `roots`; undefined where there is no /proc to read. */
export async function startSampler(roots: readonly number[], intervalMs = 100): Promise<Sampler | undefined> {
  if (!procAvailable) return undefined;
  // The tree moves into the group now, before the measured window: all it starts from then on is born in it.
  let group = openCpuGroup();
  if (group && !group.adopt(roots)) {
    // A server that would not move (not ours to move): the tree, not an empty group.
    group.close();
    group = undefined;
  }
  // The rest of the tree (workers, a helper); one that has exited meanwhile has nothing left to count.
  group?.adopt(treeOf(readProcessTable(), roots).map((p) => p.pid));
  const worker = new Worker(workerFile, { workerData: { roots, intervalMs, group: group?.path } });
  const failed = new Promise<never>((_, reject) => {
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`bench: the /proc sampler stopped (exit ${code})`)));
  });
  failed.catch(() => {});
  const replies: ((sample: TreeSample) => void)[] = [];
  worker.on('message', (sample: TreeSample) => replies.shift()?.(sample));
  return {
    mark() {
      worker.postMessage('mark');
      return Promise.race([new Promise<TreeSample>((resolve) => replies.push(resolve)), failed]);
    },
    async close() {
      worker.removeAllListeners('exit');
      await worker.terminate();
      group?.close();
    },
  };
}
