/**
 * Reading /proc: exact fields from /proc/PID/stat (a comm with spaces and parentheses cannot
 * shift them), the machine's busy ticks and fork counter from /proc/stat, and the process
 * tree found by following ppid.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseMachineStat, parseProcStat, procAvailable, readProcessTable, treeCpuTicks, treeOf, treeRssBytes, pageSize, type ProcStat } from '../src/proc.ts';

const line =
  '4242 (my (odd) name) S 17 4242 4242 0 -1 4194560 100 0 0 0 7 3 11 5 20 0 1 0 555 12345678 321 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n';

describe('parseProcStat', () => {
  it('reads fields by their proc(5) numbers, counted from the last parenthesis', () => {
    assert.deepEqual(parseProcStat(line), {
      pid: 4242,
      comm: 'my (odd) name',
      state: 'S',
      ppid: 17,
      session: 4242,
      utime: 7,
      stime: 3,
      cutime: 11,
      cstime: 5,
      starttime: 555,
      rssPages: 321,
    });
  });

  it('rejects what is not a stat line', () => {
    assert.throws(() => parseProcStat('garbage'), /not a \/proc\/PID\/stat line/);
  });
});

describe('parseMachineStat', () => {
  it('sums the busy columns (not idle, iowait or guest) and reads the fork counter', () => {
    const text = 'cpu  15880 7 11827 193483 629 2 171 3153 40 0\ncpu0 1 2 3 4 5 6 7 8 9 10\nintr 1 2\nctxt 99\nprocesses 28190\nprocs_running 1\n';
    assert.deepEqual(parseMachineStat(text), { busyTicks: 15880 + 7 + 11827 + 2 + 171 + 3153, forks: 28190 });
  });

  it('says so when a line is missing', () => {
    assert.throws(() => parseMachineStat('cpu  1 2 3 4\n'), /no "cpu" or "processes" line/);
  });
});

describe('process trees', () => {
  const p = (pid: number, ppid: number, cpu: number, rssPages = 1): ProcStat => ({
    pid,
    comm: `p${pid}`,
    state: 'S',
    ppid,
    session: 1,
    utime: cpu,
    stime: 0,
    cutime: 0,
    cstime: 0,
    starttime: pid,
    rssPages,
  });
  // 10 ─┬─ 11 ── 13          (a server, a worker and a CGI child)
  //     └─ 12
  // 20 ── 21                 (someone else's)
  const table = new Map([p(10, 1, 5), p(11, 10, 1), p(12, 10, 2), p(13, 11, 4), p(20, 1, 100), p(21, 20, 100)].map((x) => [x.pid, x]));

  it('follows ppid from the roots, and nothing else', () => {
    assert.deepEqual(
      treeOf(table, [10])
        .map((x) => x.pid)
        .sort(),
      [10, 11, 12, 13],
    );
    assert.deepEqual(
      treeOf(table, [11, 20])
        .map((x) => x.pid)
        .sort(),
      [11, 13, 20, 21],
    );
    assert.deepEqual(treeOf(table, [999]), []);
  });

  it('sums CPU including reaped children, and resident pages', () => {
    const reaper = { ...p(30, 1, 2), stime: 1, cutime: 40, cstime: 7 };
    assert.equal(treeCpuTicks([reaper]), 50);
    assert.equal(treeCpuTicks(treeOf(table, [10])), 12);
    assert.equal(treeRssBytes(treeOf(table, [10])), 4 * pageSize);
  });

  it('finds this process and its parent in the live table', { skip: !procAvailable && 'no /proc here' }, () => {
    const live = readProcessTable();
    assert.equal(live.get(process.pid)?.ppid, process.ppid);
    assert.ok(treeOf(live, [process.ppid]).some((x) => x.pid === process.pid));
  });
});
