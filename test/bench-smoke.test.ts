/**
 * `webhist bench` in quick mode, as CI runs it: the built bin against real servers for one
 * second each. It checks the shape and sanity of the results (every scenario ran, counts add
 * up, nothing was left running), never a timing.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { packageRoot } from '../src/package-root.ts';
import { procAvailable, readProcessTable } from '../src/proc.ts';
import type { BenchReport } from '../bench/harness/report.ts';

const bin = join(packageRoot, 'bin/webhist.js');
const dir = mkdtempSync(join(tmpdir(), 'webhist-bench-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const quick = ['--connections', '1', '--duration', '1s', '--warmup', '0s', '--runs', '1'];

function bench(...args: string[]) {
  return spawnSync(process.execPath, [bin, 'bench', ...args], { encoding: 'utf8', timeout: 180_000, cwd: packageRoot });
}

function benchJson(name: string, ...args: string[]): { report: BenchReport; stdout: string } {
  const file = join(dir, `${name}.json`);
  const result = bench(...args, '--json', file);
  assert.equal(result.status, 0, `exit ${result.status}\n${result.stdout}\n${result.stderr}`);
  return { report: JSON.parse(readFileSync(file, 'utf8')) as BenchReport, stdout: result.stdout };
}

/** Counts add up in every run, and every server process is gone. */
function checkRuns(report: BenchReport): void {
  const live = procAvailable ? readProcessTable() : undefined;
  for (const s of report.scenarios) {
    assert.equal(s.runs.length, report.settings.runs, `${s.id} ran every run`);
    for (const r of s.runs) {
      assert.ok(r.responses > 0, `${s.id}: some responses`);
      assert.equal(r.ok2xx + r.non2xx, r.responses, `${s.id}: 2xx + non-2xx = responses`);
      assert.equal(
        Object.values(r.statusCodes).reduce((a, b) => a + b, 0),
        r.responses,
        `${s.id}: status codes add up`,
      );
      assert.ok(r.errors >= r.timeouts && r.timeouts >= 0);
      assert.deepEqual(r.stop.leftover, [], `${s.id}: nothing outlived the stop`);
      for (const pid of r.serverPids) {
        const state = live?.get(pid)?.state;
        assert.ok(state === undefined || state === 'Z', `${s.id}: server pid ${pid} is gone (state ${state})`);
      }
      if (procAvailable) {
        // Measured, not necessarily above 0: /proc counts CPU in 10 ms ticks, and a quick window at
        // one connection can fall between two of them on an idle peer.
        assert.ok(typeof r.cpuMsPerRequest === 'number' && r.cpuMsPerRequest >= 0 && r.peakRssBytes! > 0, `${s.id}: CPU and memory measured`);
      }
    }
  }
}

describe('webhist bench, quick mode', () => {
  it('runs CGI hello.sh and writes a sane, versioned JSON report', () => {
    const { report, stdout } = benchJson('cgi', '--modes', 'cgi', '--scripts', 'hello.sh', ...quick);
    assert.equal(report.schemaVersion, 1);
    assert.match(report.command, /^webhist bench --modes cgi --scripts hello\.sh /);
    assert.equal(report.node, process.version);
    assert.ok(report.machine.cpus > 0 && report.machine.memoryBytes > 0);
    assert.deepEqual(
      report.scenarios.map((s) => s.id),
      ['cgi hello.sh c=1'],
    );
    assert.deepEqual(report.failures, []);
    checkRuns(report);
    const run = report.scenarios[0]!.runs[0]!;
    assert.ok(run.ok2xx > 0);
    if (procAvailable) {
      // Each CGI request starts a process, so the machine's fork counter moved at least once per
      // request (less one for a request already started when the window opened).
      assert.ok(run.forks! >= run.responses - 1, `forks ${run.forks}, responses ${run.responses}`);
    }
    assert.match(stdout, /webhist cgi hello\.sh/);
    assert.doesNotMatch(stdout, /\x1b\[2K/, 'no progress line when stderr is not a terminal');
  });

  it('runs each installed peer, and names the package for each missing one', () => {
    const { report } = benchJson('peers', '--modes', 'cgi', '--scripts', 'hello.sh', '--peers', ...quick);
    const ran = report.scenarios.map((s) => s.target.name);
    const skipped = report.skipped.map((s) => s.target);
    for (const peer of ['node-http', 'lighttpd-cgi', 'nginx-fcgiwrap', 'nginx-php-fpm', 'nginx-webhist-worker', 'node-fastcgi-floor']) {
      assert.ok(ran.includes(peer) || skipped.includes(peer), `${peer} ran or was skipped`);
    }
    for (const s of report.skipped.filter((x) => x.target !== 'cgi')) assert.match(s.reason, /apt-get install \S+|did not start/);
    assert.deepEqual(report.failures, []);
    checkRuns(report);
  });

  it('refuses bad options with one line', () => {
    for (const [args, pattern] of [
      [['--modes', 'cgi,apache'], /--modes cgi,apache: apache: choose one of cgi, fastcgi, embedded/],
      [['--scripts', 'nope.sh'], /no script nope\.sh in /],
      [['--connections', '0'], /--connections 0: not a whole number from 1/],
    ] as const) {
      const result = bench(...args);
      assert.notEqual(result.status, 0);
      assert.match(result.stderr, pattern);
      assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
    }
  });
});
