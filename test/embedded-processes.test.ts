/**
 * Embedded mode's answers to a script that blocks the event loop, tested on a real `webhist
 * serve` in a child process (blocking this test's own event loop would stop the test too): the
 * watchdog thread names the script while the server is stuck, and with --processes 2 the
 * supervisor replaces the stuck process while the other keeps serving, and leaves nothing
 * running after SIGTERM. Runs the built bin: `npm test` builds first (or `npm run build`).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { packageRoot } from '../src/package-root.ts';
import { eventually, get, isAlive, rawRequest, type RawResponse } from './support/http.ts';
import { collectLines } from './support/lines.ts';

const bin = join(packageRoot, 'bin', 'webhist.js');

interface Served {
  child: ChildProcess;
  port: number;
  stderr: string[];
  /** Resolves with the match once a stderr line matches, or rejects after `ms`. */
  waitForLog(pattern: RegExp, ms?: number): Promise<RegExpExecArray>;
  /** SIGTERM, then the exit code (rejects if it takes longer than `ms`). */
  stop(ms?: number): Promise<number | null>;
}

const started: ChildProcess[] = [];
after(() => {
  // Whatever a failed test left behind; the server processes of a pool exit with their primary.
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

async function serve(...args: string[]): Promise<Served> {
  assert.ok(existsSync(join(packageRoot, 'dist', 'src', 'cli', 'main.js')), 'the bin needs a build: run `npm run build` (npm test does)');
  const child = spawn(process.execPath, [bin, 'serve', '--mode', 'embedded', '--port', '0', '--quiet', ...args], {
    env: { ...process.env, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.push(child);
  const { lines: stderr, waitFor } = collectLines(child.stderr!);
  const waitForLog = (pattern: RegExp, ms = 15_000) => waitFor(pattern, ms);
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no banner within 15s; stderr:\n${stderr.join('\n')}`)), 15_000);
    child.stdout!.setEncoding('utf8').on('data', (text: string) => {
      out += text;
      const match = /http:\/\/127\.0\.0\.1:(\d+)\//.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.once('exit', (code) => reject(new Error(`serve exited (${code}) before listening; stderr:\n${stderr.join('\n')}`)));
  });
  const stop = (ms = 20_000) =>
    new Promise<number | null>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`still running ${ms}ms after SIGTERM`)), ms);
      child.once('exit', (code) => {
        clearTimeout(timer);
        resolve(code);
      });
      child.kill('SIGTERM');
    });
  return { child, port, stderr, waitForLog, stop };
}

/** One request on a connection of its own: a kept-alive one could belong to the stuck process. */
const request = (port: number, path: string): Promise<RawResponse> => rawRequest(port, get(path), 30_000);

interface Pool {
  processes: Array<{ pid: number }>;
}

describe('embedded mode: a script that blocks the event loop', () => {
  it('is named by the watchdog while it blocks, and the server serves again once it returns', { timeout: 60_000 }, async () => {
    const server = await serve();
    await server.waitForLog(/embedded: cannot run .*hello\.sh/);
    const blocking = request(server.port, '/cgi-bin/block.js?ms=2500');
    const [, pid] = await server.waitForLog(/\/cgi-bin\/block\.js: has blocked the event loop of server process (\d+) for/);
    assert.equal(Number(pid), server.child.pid);
    const blocked = await blocking;
    assert.equal(blocked.status, 200);
    assert.equal(blocked.body.toString(), 'held the event loop for 2500 ms\n');
    await server.waitForLog(/\/cgi-bin\/block\.js: server process \d+ is running again, after [\d.]+s blocked/);
    assert.equal((await request(server.port, '/cgi-bin/hello.js')).status, 200);
    assert.equal(await server.stop(), 0);
  });

  it('with --processes 2: the stuck process is replaced, the other keeps serving, and SIGTERM ends them all', { timeout: 90_000 }, async () => {
    const server = await serve('--processes', '2', '--timeout', '3s');
    const seen = new Set<number>([server.child.pid!]);
    const pool = async () => {
      const { body } = await request(server.port, '/webhist/status?json');
      const pids = (JSON.parse(body.toString()) as Pool).processes.map((p) => p.pid);
      for (const pid of pids) seen.add(pid);
      return pids;
    };
    // Heartbeats fill in the pool's table: wait until it shows both processes.
    let pidsBefore: number[] = [];
    await eventually(async () => (pidsBefore = await pool()).length === 2, 15_000, 'both processes on the status page');

    const blocking = request(server.port, '/cgi-bin/block.js?ms=120000');
    const stuck = Number((await server.waitForLog(/\/cgi-bin\/block\.js: has blocked the event loop of server process (\d+)/))[1]);
    assert.ok(pidsBefore.includes(stuck));

    // The other process answers, though one of the pool holds the event loop of its own.
    const answered = await request(server.port, '/cgi-bin/counter.js');
    assert.equal(answered.status, 200);
    const [, by] = /pid=(\d+)/.exec(answered.body.toString()) ?? [];
    assert.notEqual(Number(by), stuck);

    await server.waitForLog(new RegExp(`supervisor: process ${stuck} has sent no heartbeat .* killed \\(SIGKILL\\) and replaced`));
    const [, replacement] = await server.waitForLog(new RegExp(`supervisor: process ${stuck} was killed: started process (\\d+) in its place`));
    await blocking; // cut off with its process: no answer to check
    await eventually(() => !isAlive(stuck), 10_000, `stuck process ${stuck} gone`);
    let pidsAfter: number[] = [];
    await eventually(
      async () => (pidsAfter = await pool()).length === 2 && pidsAfter.includes(Number(replacement)),
      15_000,
      'the replacement on the status page',
    );
    assert.ok(!pidsAfter.includes(stuck));

    assert.equal(await server.stop(), 0);
    for (const pid of seen) await eventually(() => !isAlive(pid), 10_000, `process ${pid} gone after SIGTERM`);
  });
});
