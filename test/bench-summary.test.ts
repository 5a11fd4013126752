/**
 * From runs to the report's comparisons, with made-up runs and exact expectations: medians per
 * scenario, ratios paired run by run, and the size sweep's line per target.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RunResult } from '../bench/harness/runner.ts';
import { ratios, sizeFits, summarize, type ScenarioResult } from '../bench/harness/summary.ts';

function run(n: number, reqPerSec: number, extra: Partial<RunResult> = {}): RunResult {
  const responses = reqPerSec * 10;
  return {
    run: n,
    seconds: 10,
    responses,
    ok2xx: responses,
    non2xx: 0,
    statusCodes: { 200: responses },
    errors: 0,
    timeouts: 0,
    bytes: 0,
    latencyMs: { mean: 1000 / reqPerSec, p50: 1, p90: 2, p99: 3, max: 4 },
    histogram: '',
    processCpuCores: 0.25,
    harnessCpuCores: 0.2,
    samplerCpuCores: 0.05,
    reqPerSec,
    treeCpuMs: responses,
    cpuMsPerRequest: 1,
    peakRssBytes: 1000,
    processes: 1,
    forks: responses,
    forksPerRequest: 1,
    machineBusyCores: 1,
    otherCpuCores: 0,
    loadGeneratorBound: false,
    serverPids: [1],
    stop: { killed: 0, leftover: [], treeChecked: true },
    ...extra,
  };
}

function scenario(
  kind: 'mode' | 'peer' | 'static',
  name: string,
  script: string,
  connections: number,
  runs: RunResult[],
  sizeKb: number | null = null,
): ScenarioResult {
  const label = kind === 'peer' ? name.toUpperCase() : `webhist ${name}`;
  return { id: `${name} ${script} c=${connections}`, target: { kind, name, label }, script, path: '/', connections, sizeKb, runs, summary: summarize(runs) };
}

describe('summarize', () => {
  it('gives medians and ranges across runs, and totals', () => {
    const s = summarize([run(1, 100), run(2, 300, { errors: 2, non2xx: 1, loadGeneratorBound: true }), run(3, 200)])!;
    assert.deepEqual(s.reqPerSec, { median: 200, min: 100, max: 300 });
    assert.equal(s.responses, 6000);
    assert.equal(s.errors, 2);
    assert.equal(s.non2xx, 1);
    assert.equal(s.loadGeneratorBoundRuns, 1);
    assert.equal(s.leftover, 0);
    assert.equal(s.wrkRatio, undefined);
  });

  it('leaves out what /proc could not measure, and has nothing for no runs', () => {
    const s = summarize([run(1, 100, { cpuMsPerRequest: null, peakRssBytes: null, forksPerRequest: null })])!;
    assert.equal(s.cpuMsPerRequest, undefined);
    assert.equal(s.peakRssBytes, undefined);
    assert.equal(summarize([]), undefined);
  });

  it('judges agreement with wrk on the median ratio, and counts busy runs', () => {
    const wrk = { reqPerSec: 100, requests: 1000, non2xx: 0, socketErrors: 0, ratio: 0.95, wrkCpuCores: 0.1, otherCpuCores: 0 };
    const s = summarize([run(1, 95, { wrk }), run(2, 50, { wrk: { ...wrk, ratio: 0.5, otherCpuCores: 0.6 } }), run(3, 92, { wrk: { ...wrk, ratio: 0.92 } })])!;
    assert.deepEqual(s.wrkRatio, { median: 0.92, min: 0.5, max: 0.95 });
    assert.equal(s.wrkAgrees, true, 'the median is within 10%, whatever one noisy run says');
    assert.equal(s.wrkBusyRuns, 1, 'the run where others used 0.6 cores');
  });
});

describe('ratios', () => {
  it('divides run by run of the same round, then takes the median', () => {
    const cgi = scenario('mode', 'cgi', 'hello.sh', 8, [run(1, 100), run(2, 200), run(3, 150)]);
    const lighttpd = scenario('peer', 'lighttpd-cgi', 'hello.sh', 8, [run(1, 400), run(2, 400), run(3, 1500)]);
    const [r, ...rest] = ratios([cgi, lighttpd]);
    assert.equal(rest.length, 0);
    assert.equal(r!.label, 'webhist cgi hello.sh ÷ LIGHTTPD-CGI');
    assert.equal(r!.connections, 8);
    assert.deepEqual(r!.reqPerSec, { median: 0.25, min: 0.1, max: 0.5 });
  });

  it('pairs only the same connection count, and skips missing peers', () => {
    const cgi1 = scenario('mode', 'cgi', 'hello.sh', 1, [run(1, 100)]);
    const lighttpd8 = scenario('peer', 'lighttpd-cgi', 'hello.sh', 8, [run(1, 400)]);
    assert.deepEqual(ratios([cgi1, lighttpd8]), []);
  });
});

describe('sizeFits', () => {
  it('fits mean latency against KB per target, from the sweep rows only', () => {
    const at = (kb: number, ms: number) => scenario('mode', 'cgi', 'big.js', 1, [run(1, 1000 / ms)], kb);
    const hello = scenario('mode', 'cgi', 'hello.sh', 1, [run(1, 10)]);
    const [fit, ...rest] = sizeFits([hello, at(0, 59), at(10, 62.7), at(100, 96)]);
    assert.equal(rest.length, 0);
    assert.equal(fit!.target, 'cgi');
    assert.deepEqual(
      fit!.points.map((p) => p.kb),
      [0, 10, 100],
    );
    assert.ok(Math.abs(fit!.fixedMs - 59) < 1e-9 && Math.abs(fit!.msPerKb - 0.37) < 1e-9, JSON.stringify(fit));
  });
});
