/**
 * Embedded mode against its floor, plain node:http, under wrk rather than the harness's
 * autocannon: at tens of thousands of requests a second autocannon is the bottleneck (see
 * README.md, "The load generator is part of the experiment"), and wrk is not. webhist serves
 * cgi-bin/hello.js with its access log on, buffered as nginx's buffer=64k flush=1s (what a server
 * in production pays); node:http answers hello itself (bench/harness/node-hello.ts) and logs
 * nothing. Beside them runs the lean front (bench/harness/embedded-lean.ts): the same contract and
 * log with none of webhist's machinery, the floor of the design. Rounds alternate the three, so a
 * noisy minute on a shared machine hits all; CPU per request comes from /proc for each server
 * process, and the ratios (each against node:http) are medians of per-round ratios.
 *
 * usage: node bench/embedded-vs-node.ts [rounds=7] [seconds=4] [connections=8] [lean front's pieces: runner,watchdog,live]   (needs wrk)
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { clockTicks, readProcess } from '../src/proc.ts';
import { packageRoot } from '../src/package-root.ts';
import { launch, stop, type Launched } from './process/launch.ts';
import { median } from './harness/stats.ts';
import { runWrk } from './harness/wrk.ts';

const [rounds = 7, seconds = 4, connections = 8] = process.argv.slice(2, 5).map(Number);
/** Pieces of webhist put back into the lean front (bench/harness/embedded-lean.ts): e.g. runner,live. */
const leanPieces = process.argv[5] ?? '';
const node = process.execPath;
const urlLine = /(http:\/\/127\.0\.0\.1:\d+\/)/;
const servers = [
  {
    name: 'webhist embedded, access log on',
    path: 'cgi-bin/hello.js',
    launched: launch('webhist', node, [join(packageRoot, 'bin/webhist.js'), 'serve', '--mode', 'embedded', '--port', '0', '--log-buffer', '64k']),
  },
  {
    name: `lean front, same contract and log${leanPieces ? ` + ${leanPieces}` : ''}`,
    path: 'cgi-bin/hello.js',
    launched: launch('lean front', node, [join(packageRoot, 'bench/harness/embedded-lean.ts'), leanPieces]),
  },
  { name: 'node:http hello', path: '', launched: launch('node:http', node, [join(packageRoot, 'bench/harness/node-hello.ts')]) },
];
const cpuMs = (launched: Launched) => {
  const stat = readProcess(launched.pid);
  if (!stat) throw new Error(`${launched.name} has exited: ${launched.output()}`);
  return ((stat.utime + stat.stime) * 1000) / clockTicks;
};
/** Peak resident memory of the process (VmHWM), in MiB. */
const peakRssMib = (launched: Launched) => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${launched.pid}/status`, 'utf8'))?.[1]) / 1024;

try {
  const urls = await Promise.all(servers.map(async (s) => new URL(s.path, (await s.launched.waitFor(urlLine))[1]).href));
  for (const url of urls) await runWrk(url, connections, 2000); // warm-up: JIT, connections
  const measured = servers.map(() => ({ rate: [] as number[], cpu: [] as number[] }));
  console.log(`node ${process.version}, wrk -t1 -c${connections}, ${rounds} rounds of ${seconds} s, servers alternating`);
  for (let round = 0; round < rounds; round++) {
    const line: string[] = [];
    for (const [i, server] of servers.entries()) {
      const before = cpuMs(server.launched);
      const { reqPerSec, requests, non2xx, socketErrors } = await runWrk(urls[i]!, connections, seconds * 1000);
      if (non2xx || socketErrors)
        throw new Error(`${server.name}: ${non2xx} responses not 2xx, ${socketErrors} socket errors: the numbers would not be of hello`);
      const cpu = ((cpuMs(server.launched) - before) * 1000) / requests;
      measured[i]!.rate.push(reqPerSec);
      measured[i]!.cpu.push(cpu);
      line.push(`${server.name}: ${reqPerSec.toFixed(0)} req/s, ${cpu.toFixed(1)} µs CPU/req`);
    }
    console.log(`round ${round + 1}  ${line.join(' | ')}`);
  }
  const peer = measured.at(-1)!;
  const range = (xs: number[]) => `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}`;
  for (const [i, server] of servers.entries()) {
    const m = measured[i]!;
    console.log(
      `${server.name}: median ${median(m.rate).toFixed(0)} req/s, ${median(m.cpu).toFixed(1)} µs CPU/req, peak RSS ${peakRssMib(server.launched).toFixed(0)} MiB`,
    );
  }
  for (const [i, server] of servers.slice(0, -1).entries()) {
    const m = measured[i]!;
    const ratioRate = m.rate.map((rate, k) => rate / peer.rate[k]!);
    const ratioCpu = m.cpu.map((cpu, k) => cpu / peer.cpu[k]!);
    console.log(
      `${server.name} ÷ node:http (median of per-round ratios): req/s ${median(ratioRate).toFixed(2)}× (${range(ratioRate)}), CPU/req ${median(ratioCpu).toFixed(2)}× (${range(ratioCpu)})`,
    );
  }
} finally {
  await stop(servers.map((s) => s.launched));
}
