/**
 * How many Node workers a FastCGI pool wants: `webhist serve --mode fastcgi --workers N` for each
 * N given, taking turns under wrk, CPU per request of the whole process tree (server, manager,
 * workers) from /proc, rounds alternating, the median round reported. This is the measurement
 * behind the pool's default size (modes/fastcgi/index.ts, defaultNodeWorkers).
 *
 * usage: node bench/fastcgi-pool.ts [workers=1,2,4] [rounds=5] [seconds=4] [connections=8]   (needs wrk)
 */
import { clockTicks, readProcessTable, treeCpuTicks, treeOf, treeRssBytes } from '../src/proc.ts';
import { packageRoot } from '../src/package-root.ts';
import { launch, stop } from './process/launch.ts';
import { median } from './harness/stats.ts';
import { runWrk } from './harness/wrk.ts';
import { join } from 'node:path';

const [sizesArg = '1,2,4', ...rest] = process.argv.slice(2);
const [rounds = 5, seconds = 4, connections = 8] = rest.map(Number);
const sizes = sizesArg.split(',').map(Number);
const webhist = join(packageRoot, 'bin/webhist.js');
const urlLine = /(http:\/\/127\.0\.0\.1:\d+\/)/;

const servers = sizes.map((n) => ({
  n,
  launched: launch(`webhist fastcgi --workers ${n}`, process.execPath, [
    webhist,
    'serve',
    '--mode',
    'fastcgi',
    '--workers',
    String(n),
    '--port',
    '0',
    '--quiet',
  ]),
}));
const tree = (pid: number) => treeOf(readProcessTable(), [pid]);

try {
  const urls = await Promise.all(servers.map(async (s) => new URL('cgi-bin/hello.js', (await s.launched.waitFor(urlLine))[1]).href));
  for (const url of urls) await runWrk(url, connections, 2000); // warm-up: JIT, connections, every worker started
  const results = servers.map(() => ({ rate: [] as number[], cpu: [] as number[], rss: [] as number[] }));
  console.log(`node ${process.version}, wrk -t1 -c${connections}, ${rounds} rounds of ${seconds} s, pools alternating; CPU of the whole tree`);
  for (let round = 0; round < rounds; round++) {
    for (const [i, server] of servers.entries()) {
      const before = treeCpuTicks(tree(server.launched.pid));
      const { reqPerSec, requests } = await runWrk(urls[i]!, connections, seconds * 1000);
      const after = tree(server.launched.pid);
      const r = results[i]!;
      r.rate.push(reqPerSec);
      r.cpu.push(((treeCpuTicks(after) - before) * 1000) / clockTicks / requests);
      r.rss.push(treeRssBytes(after));
    }
  }
  console.log('workers   req/s  CPU ms/req  tree RSS MiB');
  for (const [i, server] of servers.entries()) {
    const { rate, cpu, rss } = results[i]!;
    console.log(
      `${String(server.n).padStart(7)} ${median(rate).toFixed(0).padStart(7)} ${median(cpu).toFixed(3).padStart(11)} ${(median(rss) / 2 ** 20).toFixed(1).padStart(13)}`,
    );
  }
} finally {
  await stop(servers.map((s) => s.launched));
}
