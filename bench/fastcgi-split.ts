/**
 * Where a FastCGI request's CPU goes, process by process. One `webhist worker` listens on a unix
 * socket; three HTTP front ends take turns under wrk: node:http answering hello itself (Node's
 * HTTP with nothing behind it), the bare FastCGI front (bench/harness/fastcgi-floor.ts) and
 * webhist's own (`serve --mode fastcgi --fastcgi-connect`), the last two in front of that worker.
 * CPU comes from /proc for each process separately; rounds alternate the fronts, so machine noise
 * hits all three alike, and the report gives the median round.
 *
 * usage: node bench/fastcgi-split.ts [rounds=5] [seconds=4] [connections=8]   (needs wrk)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clockTicks, readProcess } from '../src/proc.ts';
import { launch, stop, waitForListener, type Launched } from './process/launch.ts';
import { median } from './harness/stats.ts';
import { runWrk } from './harness/wrk.ts';
import { packageRoot, shippedCgiBin } from '../src/package-root.ts';

const [rounds = 5, seconds = 4, connections = 8] = process.argv.slice(2).map(Number);
const node = process.execPath;
const webhist = join(packageRoot, 'bin/webhist.js');
const dir = await mkdtemp(join(tmpdir(), 'webhist-fastcgi-split-'));
const socketPath = join(dir, 'worker.sock');
const socket = `unix:${socketPath}`;
const urlLine = /(http:\/\/127\.0\.0\.1:\d+\/)/;

// It multiplexes, as a pool's workers do: both fronts then share one connection to it.
const worker = launch('webhist worker', node, [webhist, 'worker', '--listen', socket, '--multiplex', '--cgi-bin', shippedCgiBin]);
// webhist's front asks the worker GET_VALUES as it starts: the socket must be there first.
await waitForListener({ path: socketPath }, worker);
const fronts = [
  { name: 'node:http hello (nothing behind it)', path: '', launched: launch('node:http', node, [join(packageRoot, 'bench/harness/node-hello.ts')]) },
  {
    name: 'bare FastCGI front + worker',
    path: 'cgi-bin/hello.js',
    launched: launch('floor', node, [join(packageRoot, 'bench/harness/fastcgi-floor.ts'), socket, shippedCgiBin]),
  },
  {
    name: 'webhist fastcgi front + worker',
    path: 'cgi-bin/hello.js',
    launched: launch('webhist', node, [webhist, 'serve', '--mode', 'fastcgi', '--fastcgi-connect', socket, '--port', '0', '--quiet']),
  },
];
const ready = Promise.all(fronts.map((front) => front.launched.waitFor(urlLine)));
const cpuMs = (launched: Launched) => {
  const stat = readProcess(launched.pid);
  if (!stat) throw new Error(`${launched.name} has exited: ${launched.output()}`);
  return ((stat.utime + stat.stime) * 1000) / clockTicks;
};

try {
  const urls = (await ready).map((match, i) => new URL(fronts[i]!.path, match[1]).href);
  for (const url of urls) await runWrk(url, connections, 2000); // warm-up: JIT, connections
  const results = fronts.map(() => ({ rate: [] as number[], front: [] as number[], worker: [] as number[] }));
  console.log(`node ${process.version}, wrk -t1 -c${connections}, ${rounds} rounds of ${seconds} s, fronts alternating; CPU ms per request`);
  for (let round = 0; round < rounds; round++) {
    for (const [i, front] of fronts.entries()) {
      const before = [cpuMs(front.launched), cpuMs(worker)];
      const { reqPerSec, requests } = await runWrk(urls[i]!, connections, seconds * 1000);
      const r = results[i]!;
      r.rate.push(reqPerSec);
      r.front.push((cpuMs(front.launched) - before[0]!) / requests);
      r.worker.push((cpuMs(worker) - before[1]!) / requests);
    }
  }
  const width = Math.max(...fronts.map((f) => f.name.length));
  console.log(`${'front'.padEnd(width)}   req/s  front ms/req  worker ms/req  total`);
  for (const [i, front] of fronts.entries()) {
    const { rate, front: f, worker: w } = results[i]!;
    const cells = [
      median(rate).toFixed(0).padStart(7),
      median(f).toFixed(3).padStart(12),
      median(w).toFixed(3).padStart(13),
      median(f.map((x, k) => x + w[k]!))
        .toFixed(3)
        .padStart(6),
    ];
    console.log(`${front.name.padEnd(width)} ${cells.join('  ')}`);
  }
} finally {
  await stop([...fronts.map((f) => f.launched), worker]);
  await rm(dir, { recursive: true, force: true });
}
