/**
 * Issue #15, what a script can reach and what outlives it: the server's secrets through
 * /proc/<pid>/environ of its ancestors, children that escape the process-group kill with
 * setsid, and scripts left running when the server is SIGKILLed. Each drives `webhist serve`
 * (a separate process) and asserts outcomes: a secret string absent, a pid gone.
 * A test marked todo reproduces a defect still open; its fix removes the todo.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isRunning } from '../../src/proc.ts';
import { eventually, get, modes, rawRequest, serve } from './support.ts';

/** A handler that walks up from its own process, reading every ancestor's environment. */
const readAncestors = `import { readFileSync } from 'node:fs';
export default async function ({ stdout }) {
  const found = [];
  for (let pid = process.pid; pid > 1; ) {
    try { found.push('[pid ' + pid + ']\\n' + readFileSync('/proc/' + pid + '/environ', 'latin1').replaceAll('\\0', '\\n')); } catch {}
    const stat = readFileSync('/proc/' + pid + '/stat', 'latin1');
    pid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  }
  stdout.write('Content-Type: text/plain\\r\\n\\r\\nread ' + found.length + ' environments\\n' + found.join('\\n'));
}
`;

function pidIn(file: string): number {
  return existsSync(file) ? Number(readFileSync(file, 'utf8').trim()) || 0 : 0;
}

function kill(pid: number): void {
  try {
    if (pid > 0) process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

// Concurrent: each test has its own server, and most of their time is spent waiting.
describe('#15 attack: isolation', { concurrency: true }, () => {
  for (const mode of modes) {
    it(`#10 (${mode}) a script cannot read the server's secret from /proc/<ancestor>/environ`, async () => {
      const secret = `attack-secret-${randomBytes(8).toString('hex')}`;
      const server = await serve(mode, { env: { WEBHIST_ATTACK_SECRET: secret }, scripts: { 'ancestors.js': readAncestors } });
      try {
        const response = await rawRequest(server.port, get('/cgi-bin/ancestors.js'));
        assert.equal(response.status, 200, response.head);
        assert.match(response.body.toString(), /^read \d+ environments/, 'the script ran');
        // It did read the server's own environment (so the secret's absence means something).
        assert.ok(response.body.toString().includes(`[pid ${server.pid}]\n`), "the script read the server's environ");
        assert.ok(!response.body.toString().includes(secret), 'the secret reached the script');
      } finally {
        await server.stop();
      }
    });
  }

  for (const way of ['helper', 'node'] as const)
    it(`#13 (cgi --spawn ${way}) a child that calls setsid is killed with its script at --timeout`, async () => {
      const server = await serve('cgi', {
        args: ['--timeout', '1s', '--spawn', way],
        scripts: { 'setsid.sh': '#!/bin/sh\nsetsid sleep 30 > /dev/null 2>&1 &\necho $! > $TMP/escapee.pid\nsleep 60\n' },
      });
      const file = join(server.dir, 'escapee.pid');
      let escapee = 0;
      try {
        const response = await rawRequest(server.port, get('/cgi-bin/setsid.sh'));
        assert.equal(response.status, 504);
        escapee = pidIn(file);
        assert.ok(escapee > 0, 'the script recorded its child');
        await eventually(() => !isRunning(escapee), 5000, `the setsid child ${escapee} to be gone`);
      } finally {
        kill(escapee || pidIn(file));
        await server.stop();
      }
    });

  it('#13 (cgi) a double-forked child in a session of its own is killed with its script at --timeout', {
    todo: '#15 defect 13: an orphan outside the process group is out of reach without a cgroup per request (docs/security.md)',
  }, async () => {
    const server = await serve('cgi', {
      args: ['--timeout', '1s'],
      // The inner shell exits at once: sleep's parent is init, its session its own.
      scripts: { 'daemon.sh': "#!/bin/sh\nsh -c 'setsid sleep 30 > /dev/null 2>&1 & echo $! > $TMP/escapee.pid'\nsleep 60\n" },
    });
    const file = join(server.dir, 'escapee.pid');
    let escapee = 0;
    try {
      const response = await rawRequest(server.port, get('/cgi-bin/daemon.sh'));
      assert.equal(response.status, 504);
      escapee = pidIn(file);
      assert.ok(escapee > 0, 'the script recorded its grandchild');
      await eventually(() => !isRunning(escapee), 3000, `the orphaned child ${escapee} to be gone`);
    } finally {
      kill(escapee || pidIn(file));
      await server.stop();
    }
  });

  // Held by the spawn helper (CGI mode's default): it dies with the server (its parent-death
  // signal) and kills what it started. With --spawn node nothing does (docs/security.md).
  it('#13 (cgi) a SIGKILLed server leaves no script running', async () => {
    const server = await serve('cgi', { args: ['--timeout', '60s'], scripts: { 'lingers.sh': '#!/bin/sh\necho $$ > $TMP/script.pid\nexec sleep 60\n' } });
    const file = join(server.dir, 'script.pid');
    let script = 0;
    try {
      const pending = rawRequest(server.port, get('/cgi-bin/lingers.sh'), 20_000).catch(() => undefined);
      await eventually(() => pidIn(file) > 0, 5000, 'the script to start');
      script = pidIn(file);
      process.kill(server.pid, 'SIGKILL'); // the server alone, as the OOM killer would
      await pending;
      await eventually(() => !isRunning(script), 5000, `script ${script} to be gone after the server was SIGKILLed`);
    } finally {
      kill(script);
      await server.stop();
    }
  });
});
