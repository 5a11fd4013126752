/**
 * What the live view costs the server it watches: the same load at the same server with nobody
 * watching and with one viewer reading /webhist/events (curl, a process of its own, as a browser
 * would be), and, given a build of webhist from before the live view, that build too: the cost of
 * the bookkeeping alone, which every request pays whether anyone watches or not.
 *
 * usage: node bench/viewer-cost.ts [modes=embedded,fastcgi,cgi] [seconds=5] [rounds=3] [base-bin]
 *   base-bin: bin/webhist.js of a build from before the live view (optional)
 * Each round runs every variant once, in turn, so machine noise hits them alike; the report gives
 * the median round. Load: autocannon, 8 keep-alive connections, /cgi-bin/hello.js.
 *
 * On a shared machine req/s swings with everyone else's load; CPU per request swings less, and
 * the first lines, the bus's own work per request timed in this process, not at all.
 */
import { join } from 'node:path';
import { driveLoad } from './harness/load.ts';
import { startSampler } from './harness/sampler.ts';
import { launch, stop, type Launched } from './process/launch.ts';
import { processExited, processStarted, requestArrived, requestEnded, requestRuns, watchEvents } from '../src/live-events.ts';
import { clockTicks } from '../src/proc.ts';
import { packageRoot } from '../src/package-root.ts';

const [modesArg = 'embedded,fastcgi,cgi', secondsArg = '5', roundsArg = '3', baseBin] = process.argv.slice(2);
const modes = modesArg.split(',');
const durationMs = Number(secondsArg) * 1000;
const rounds = Number(roundsArg);
const bin = join(packageRoot, 'bin/webhist.js');

type Variant = 'before the live view' | 'nobody watching' | 'one viewer';
const variants: Variant[] = [...(baseBin ? (['before the live view'] as const) : []), 'nobody watching', 'one viewer'];

interface Result {
  reqPerSec: number;
  cpuMsPerRequest: number;
  p50Ms: number;
  p99Ms: number;
  eventBytes: number;
}

async function startServer(variant: Variant, mode: string): Promise<{ server: Launched; url: string }> {
  const server = launch('webhist', process.execPath, [variant === 'before the live view' ? baseBin! : bin, 'serve', '--mode', mode, '--port', '0', '--quiet']);
  const ready = await server.waitFor(/on (http:\/\/127\.0\.0\.1:\d+\/)/, 15_000);
  return { server, url: ready[1]! };
}

async function measure(variant: Variant, mode: string): Promise<Result> {
  const { server, url } = await startServer(variant, mode);
  let viewer: Launched | undefined;
  let eventBytes = 0;
  try {
    // The viewer reads for the warm-up and the window, then says how many bytes it read.
    const viewerSeconds = (1000 + durationMs) / 1000 + 1;
    if (variant === 'one viewer') {
      viewer = launch('viewer', 'curl', [
        '-sN',
        '-o',
        '/dev/null',
        '--max-time',
        String(viewerSeconds),
        '-w',
        'read %{size_download}\n',
        `${url}webhist/events`,
      ]);
    }
    const sampler = await startSampler([server.pid]);
    let before = 0;
    let after = 0;
    const window = await driveLoad({
      url: `${url}cgi-bin/hello.js`,
      connections: 8,
      warmupMs: 1000,
      durationMs,
      atWindowStart: async () => {
        before = (await sampler!.mark()).cpuTicks;
      },
      atWindowEnd: async () => {
        after = (await sampler!.mark()).cpuTicks;
      },
    });
    await sampler!.close();
    if (viewer) eventBytes = Number((await viewer.waitFor(/read (\d+)/, 10_000))[1]) / viewerSeconds;
    return {
      reqPerSec: window.responses / window.seconds,
      cpuMsPerRequest: ((after - before) * 1000) / clockTicks / window.responses,
      p50Ms: window.latencyMs.p50,
      p99Ms: window.latencyMs.p99,
      eventBytes,
    };
  } finally {
    await stop(viewer ? [server, viewer] : [server]);
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/**
 * The bus's work for one CGI-like request (arrive, a process started, run, end, process exited),
 * in nanoseconds: with no listener, and with one that turns each event into its SSE line as the
 * stream does. The median of 7 rounds of 100,000.
 */
async function busCost(listening: boolean): Promise<number> {
  const stop = listening ? watchEvents((event) => void `data: ${JSON.stringify(event)}\n\n`.length) : () => {};
  const signal = new AbortController().signal;
  const rounds: number[] = [];
  for (let round = 0; round < 7; round++) {
    const n = 100_000;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      const pid = 1_000_000 + (i % 1000);
      const request = requestArrived('GET', '/cgi-bin/hello.js');
      processStarted({ pid, kind: 'cgi', script: '/cgi-bin/hello.js' });
      requestRuns(request, '/cgi-bin/hello.js', { pid }, signal);
      processExited({ pid, status: 0 });
      requestEnded(request, 200, true);
    }
    // request-end goes out in a microtask: let them all run inside the timing.
    await new Promise((resolve) => setImmediate(resolve));
    rounds.push(Number(process.hrtime.bigint() - t0) / n);
  }
  stop();
  return median(rounds);
}

console.log(`viewer cost: ${modes.join(', ')} × ${variants.join(' / ')}; ${rounds} rounds of ${durationMs / 1000} s; 8 connections, /cgi-bin/hello.js`);
console.log(`node ${process.version}, ${new Date().toISOString()}`);
const quiet = await busCost(false);
const watched = await busCost(true);
console.log(
  `\nthe bus's own work per request (in this process): ${(quiet / 1000).toFixed(2)} µs with nobody watching, ${(watched / 1000).toFixed(2)} µs with one viewer`,
);
for (const mode of modes) {
  const results = new Map<Variant, Result[]>(variants.map((v) => [v, []]));
  for (let round = 0; round < rounds; round++) {
    for (const variant of variants) results.get(variant)!.push(await measure(variant, mode));
  }
  console.log(`\n${mode}`);
  console.log(
    `  ${'variant'.padEnd(22)} ${'req/s'.padStart(8)} ${'CPU ms/req'.padStart(11)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'events KB/s'.padStart(12)}   (median of ${rounds}; req/s of each round)`,
  );
  for (const [variant, runs] of results) {
    const m = (pick: (r: Result) => number) => median(runs.map(pick));
    console.log(
      `  ${variant.padEnd(22)} ${m((r) => r.reqPerSec)
        .toFixed(0)
        .padStart(8)} ${m((r) => r.cpuMsPerRequest)
        .toFixed(3)
        .padStart(11)} ${m((r) => r.p50Ms)
        .toFixed(2)
        .padStart(8)} ${m((r) => r.p99Ms)
        .toFixed(2)
        .padStart(8)} ${(m((r) => r.eventBytes) / 1024).toFixed(0).padStart(12)}   ${runs.map((r) => r.reqPerSec.toFixed(0)).join(' ')}`,
    );
  }
}
