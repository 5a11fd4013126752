/**
 * Stopping a server under test leaves nothing behind: its whole group gets SIGTERM, and what
 * ignores it (in its tree, or escaped from the tree but still in its session) gets SIGKILL and
 * is counted. Outcomes only; no timing is asserted.
 */
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { cleanEnv, launch, stop } from '../bench/process/launch.ts';
import { procAvailable } from '../src/proc.ts';

describe('launch and stop', () => {
  it('gives a server PATH and HOME only', async () => {
    process.env.NODE_EXTRA_CA_CERTS = '/nonexistent.pem';
    try {
      assert.deepEqual(
        Object.keys(cleanEnv()).sort(),
        ['HOME', 'PATH'].filter((k) => process.env[k] !== undefined),
      );
      const env = launch('env', 'sh', ['-c', 'env; echo END']);
      await env.waitFor(/END/);
      assert.doesNotMatch(env.output(), /NODE_EXTRA_CA_CERTS/);
      await stop([env]);
    } finally {
      delete process.env.NODE_EXTRA_CA_CERTS;
    }
  });

  it('stops a process and its children with SIGTERM, nothing killed, nothing left', async () => {
    const server = launch('sh', 'sh', ['-c', 'sleep 60 & sleep 60 & echo ready; wait']);
    await server.waitFor(/ready/);
    const report = await stop([server]);
    assert.deepEqual(report, { killed: 0, leftover: [], treeChecked: procAvailable });
    assert.ok(server.hasExited());
  });

  it('kills what ignores SIGTERM, and counts it', { skip: !procAvailable && 'needs /proc' }, async () => {
    const stubborn = launch('stubborn', 'sh', ['-c', 'trap "" TERM; sleep 60 & echo ready; wait']);
    await stubborn.waitFor(/ready/);
    const report = await stop([stubborn], 300);
    assert.ok(report.killed >= 1, `killed ${report.killed}`);
    assert.deepEqual(report.leftover, []);
  });

  it('finds an orphan that left the tree through its session', { skip: !procAvailable && 'needs /proc' }, async () => {
    // The shell exits at once; its background child, ignoring SIGTERM, is reparented away.
    // It says ready only once the child ignores SIGTERM (the child touches a file when it does).
    const flag = join(tmpdir(), `webhist-orphan-${process.pid}-${Date.now()}`);
    const parent = launch('orphaner', 'sh', [
      '-c',
      `(trap "" TERM; touch ${flag}; exec sleep 60) & while [ ! -e ${flag} ]; do sleep 0.01; done; rm -f ${flag}; echo ready`,
    ]);
    await parent.waitFor(/ready/);
    await parent.exited;
    const report = await stop([parent], 300);
    assert.equal(report.killed, 1);
    assert.deepEqual(report.leftover, []);
  });

  it('says why a server that exits early was never ready', async () => {
    const broken = launch('broken', 'sh', ['-c', 'echo "no such directory" >&2; exit 1']);
    await assert.rejects(broken.waitFor(/on http/), /broken exited before it was ready: no such directory/);
  });
});
