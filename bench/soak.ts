/**
 * The soak: each mode's server, started as a separate process, under a bounded mix of the
 * requests that hurt a server over time (issue #15) — normal ones, clients that leave in the
 * middle of a response, scripts that crash, scripts that hang past a short --timeout, and slow
 * uploads — for a fixed time, while the server's whole process tree is sampled every second:
 * resident memory, open descriptors, processes. What to look for: memory and descriptors that
 * climb and never come back, processes that pile up, a server that stops answering. After the
 * load a quiet pause, then one more sample ("settled"), then the server is stopped and anything
 * that needed SIGKILL or outlived it is reported.
 *
 * usage: node bench/soak.ts [--modes cgi,fastcgi,embedded] [--duration 2m] [--clients 8]
 *                           [--timeout 2s] [--json FILE]
 */
import { execFileSync } from 'node:child_process';
import { cp, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { cpus, totalmem, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { packageRoot, shippedCgiBin } from '../src/package-root.ts';
import { procAvailable, readProcessTable, treeOf, treeRssBytes } from '../src/proc.ts';
import { paint } from '../src/ui.ts';
import { cleanEnv, launch, stop, type StopReport } from './process/launch.ts';

const { values } = parseArgs({
  options: {
    modes: { type: 'string', default: 'cgi,fastcgi,embedded' },
    duration: { type: 'string', default: '2m' },
    clients: { type: 'string', default: '8' },
    timeout: { type: 'string', default: '2s' },
    json: { type: 'string' },
  },
});

function duration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text);
  if (!match) throw new Error(`soak: "${text}" is not a duration (try 20s, 500ms or 2m)`);
  return Math.round(Number(match[1]) * { ms: 1, s: 1000, m: 60_000 }[match[2] ?? 's']!);
}

const settings = {
  modes: values.modes.split(',').filter(Boolean),
  durationMs: duration(values.duration),
  clients: Number(values.clients),
  timeoutMs: duration(values.timeout),
  settleMs: 3000,
};
if (!procAvailable) {
  process.stderr.write('soak: needs Linux /proc to sample memory and descriptors\n');
  process.exit(1);
}

/** What the mix sends, and how often (weights out of 100). */
const kinds = {
  normal: { weight: 50, what: 'GET hello.js' },
  aborted: { weight: 15, what: 'GET big.js?kb=8192, client leaves after the first bytes' },
  erroring: { weight: 15, what: 'GET crash.js (throws after a partial body)' },
  hung: { weight: 5, what: 'GET hang.js (never answers; killed at --timeout)' },
  upload: { weight: 15, what: 'POST echo.js, 4 KiB in four pieces 250 ms apart' },
} as const;
type Kind = keyof typeof kinds;

interface Sample {
  t: number;
  rssBytes: number;
  fds: number;
  processes: number;
  done: number;
}

interface ModeResult {
  mode: string;
  requests: number;
  outcomes: Record<string, number>;
  baseline: Sample;
  peak: { rssBytes: number; fds: number; processes: number };
  settled: Sample;
  samples: Sample[];
  stop: StopReport;
}

async function sample(pid: number, t: number, done: number): Promise<Sample> {
  const tree = treeOf(readProcessTable(), [pid]);
  const fds = await Promise.all(
    tree.map((p) =>
      readdir(`/proc/${p.pid}/fd`).then(
        (f) => f.length,
        () => 0,
      ),
    ),
  );
  return { t, rssBytes: treeRssBytes(tree), fds: fds.reduce((a, b) => a + b, 0), processes: tree.length, done };
}

function pick(): Kind {
  let roll = Math.random() * 100;
  for (const [kind, { weight }] of Object.entries(kinds) as [Kind, { weight: number }][]) {
    roll -= weight;
    if (roll < 0) return kind;
  }
  return 'normal';
}

/** One request of a kind; resolves with its outcome ("200", "aborted", "error ECONNRESET"), never rejects. */
function send(port: number, kind: Kind): Promise<string> {
  const paths: Record<Kind, string> = {
    normal: '/cgi-bin/hello.js',
    aborted: '/cgi-bin/big.js?kb=8192',
    erroring: '/cgi-bin/crash.js',
    hung: '/cgi-bin/hang.js',
    upload: '/cgi-bin/echo.js',
  };
  return new Promise((resolve) => {
    const upload = kind === 'upload';
    const req = request({
      host: '127.0.0.1',
      port,
      path: paths[kind],
      method: upload ? 'POST' : 'GET',
      agent: false,
      headers: upload ? { 'Content-Length': 4096 } : {},
    });
    const give = setTimeout(() => req.destroy(new Error('ECLIENTTIMEOUT')), settings.timeoutMs + 10_000);
    const finish = (outcome: string) => {
      clearTimeout(give);
      resolve(outcome);
    };
    req.on('response', (res) => {
      if (kind === 'aborted') {
        res.once('data', () => {
          req.destroy();
          finish('left early');
        });
      }
      res.on('data', () => {});
      res.on('end', () => finish(String(res.statusCode)));
      res.on('error', () => finish(`${res.statusCode} cut`));
    });
    req.on('error', (error: NodeJS.ErrnoException) => finish(`error ${error.code ?? error.message}`));
    if (!upload) return void req.end();
    void (async () => {
      for (let i = 0; i < 4 && !req.destroyed; i++) {
        req.write(Buffer.alloc(1024, 'u'));
        await sleep(250);
      }
      req.end();
    })();
  });
}

async function soak(mode: string): Promise<ModeResult> {
  const dir = await mkdtemp(join(tmpdir(), 'webhist-soak-'));
  const cgiBin = join(dir, 'cgi-bin');
  await cp(shippedCgiBin, cgiBin, { recursive: true });
  await writeFile(join(dir, 'index.html'), 'soak\n');
  const args = [join(packageRoot, 'bin/webhist.js'), 'serve', '--mode', mode, '--port', '0', '--quiet'];
  args.push('--cgi-bin', cgiBin, '--docroot', dir, '--timeout', `${settings.timeoutMs}ms`);
  const server = launch(`webhist ${mode}`, process.execPath, args, { env: cleanEnv(), cwd: dir });
  try {
    const port = Number((await server.waitFor(/ on http:\/\/127\.0\.0\.1:(\d+)\//, 30_000))[1]);
    await send(port, 'normal'); // the first request loads what the mode loads lazily
    const started = Date.now();
    const baseline = await sample(server.pid, 0, 0);
    const samples = [baseline];
    const outcomes: Record<string, number> = {};
    let done = 0;
    const deadline = started + settings.durationMs;
    const clients = Array.from({ length: settings.clients }, async () => {
      while (Date.now() < deadline && !server.hasExited()) {
        const kind = pick();
        const outcome = `${kind} ${await send(port, kind)}`;
        outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
        done++;
      }
    });
    const sampler = (async () => {
      for (let second = 1; Date.now() < deadline; second++) {
        await sleep(Math.max(0, started + second * 1000 - Date.now()));
        samples.push(await sample(server.pid, second, done));
        progress(mode, second, samples.at(-1)!);
      }
    })();
    await Promise.all([...clients, sampler]);
    await sleep(settings.settleMs);
    const settled = await sample(server.pid, (Date.now() - started) / 1000, done);
    if (process.stderr.isTTY) process.stderr.write('\n');
    const peak = {
      rssBytes: Math.max(...samples.map((s) => s.rssBytes)),
      fds: Math.max(...samples.map((s) => s.fds)),
      processes: Math.max(...samples.map((s) => s.processes)),
    };
    const alive = server.hasExited() ? 'the server exited during the soak' : undefined;
    if (alive) outcomes[alive] = 1;
    return { mode, requests: done, outcomes, baseline, peak, settled, samples, stop: await stop([server]) };
  } finally {
    if (!server.hasExited()) await stop([server]);
    await rm(dir, { recursive: true, force: true });
  }
}

function progress(mode: string, second: number, s: Sample): void {
  if (!process.stderr.isTTY) return;
  process.stderr.write(
    `\r${mode} ${second}/${settings.durationMs / 1000} s: ${s.done} requests, ${mib(s.rssBytes)}, ${s.fds} fds, ${s.processes} processes   `,
  );
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [paint.bold(line(header)), ...rows.map(line)].join('\n');
}

function timeline(r: ModeResult): string {
  const every = Math.max(1, Math.round(settings.durationMs / 1000 / 10));
  const rows = r.samples.filter((s) => s.t % every === 0).concat([r.settled]);
  return table(
    ['t (s)', 'requests', 'RSS', 'fds', 'processes'],
    rows.map((s, i) => [
      i === rows.length - 1 ? `settled ${s.t.toFixed(0)}` : String(s.t),
      String(s.done),
      mib(s.rssBytes),
      String(s.fds),
      String(s.processes),
    ]),
  );
}

function gitCommit(): string {
  const git = (...args: string[]) => execFileSync('git', args, { cwd: packageRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  try {
    return `${git('rev-parse', '--short', 'HEAD')}${git('status', '--porcelain') ? ' (with uncommitted changes)' : ''}`;
  } catch {
    return 'unknown';
  }
}

const provenance = {
  command: `node bench/soak.ts ${process.argv.slice(2).join(' ')}`.trim(),
  commit: gitCommit(),
  node: process.version,
  machine: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Linux ${release()}`,
  date: new Date().toISOString(),
};
console.log(`# soak: ${provenance.command}`);
console.log(`# commit ${provenance.commit}, ${provenance.node}, ${provenance.machine}, ${provenance.date}`);
console.log(`# ${settings.durationMs / 1000} s per mode, ${settings.clients} clients, --timeout ${settings.timeoutMs} ms; the mix:`);
for (const [kind, { weight, what }] of Object.entries(kinds)) console.log(`#   ${kind.padEnd(8)} ${String(weight).padStart(3)}%  ${what}`);

const results: ModeResult[] = [];
for (const mode of settings.modes) {
  const result = await soak(mode);
  results.push(result);
  console.log(`\n${paint.bold(mode)}: ${result.requests} requests`);
  console.log(timeline(result));
  console.log(
    `outcomes: ${Object.entries(result.outcomes)
      .sort()
      .map(([k, n]) => `${k} ×${n}`)
      .join(', ')}`,
  );
}

console.log(`\n${paint.bold('summary')} (the server's whole process tree: baseline → peak → settled ${settings.settleMs / 1000} s after the load)`);
console.log(
  table(
    ['mode', 'requests', 'RSS', 'fds', 'processes', 'stop'],
    results.map((r) => [
      r.mode,
      String(r.requests),
      `${mib(r.baseline.rssBytes)} → ${mib(r.peak.rssBytes)} → ${mib(r.settled.rssBytes)}`,
      `${r.baseline.fds} → ${r.peak.fds} → ${r.settled.fds}`,
      `${r.baseline.processes} → ${r.peak.processes} → ${r.settled.processes}`,
      r.stop.leftover.length ? paint.red(`${r.stop.leftover.length} left over`) : r.stop.killed ? `${r.stop.killed} needed SIGKILL` : 'clean',
    ]),
  ),
);
if (values.json) {
  await writeFile(values.json, `${JSON.stringify({ ...provenance, settings, kinds, results }, null, 2)}\n`);
  console.log(`\njson: ${values.json}`);
}
