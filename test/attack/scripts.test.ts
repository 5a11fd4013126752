/**
 * Issue #15, misbehaving scripts and a server short of descriptors: a spawn that fails, a
 * handler's callback that throws, children that keep stdout open, a script that closes stdout
 * and goes on, and a response framed twice. Each drives `webhist serve` (a separate process)
 * over loopback and asserts outcomes: the answer, the server still answering, its pid alive.
 * A test marked todo reproduces a defect still open; its fix removes the todo.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Socket } from 'node:net';
import { isRunning } from '../../src/proc.ts';
import { eventually, get, modes, open, openFds, rawRequest, serve, sleep, statusOf, untilAnswered } from './support.ts';

// Concurrent: each test has its own server, and most of their time is spent waiting.
describe('#15 attack: scripts and spawn failures', { concurrency: true }, () => {
  // Both ways CGI mode starts programs: the spawn helper (its connection, and the helper's own
  // limit, inherited) and Node's spawn() (no pipes, and an 'error' event nobody listened for).
  for (const way of ['helper', 'node'] as const)
    it(`#1 (cgi --spawn ${way}) a spawn that fails at the descriptor limit is an answered request, not a dead server`, async () => {
      const limit = 256;
      const server = await serve('cgi', { args: ['--spawn', way], wrapper: ['sh', '-c', `ulimit -n ${limit} && exec "$@"`, 'sh'] });
      const hogs: Socket[] = [];
      try {
        // Half-sent requests, each holding a descriptor in the server, until one is left: the
        // next request's connection takes it, and its script finds none for its pipes (or for
        // the connection to the spawn helper): the start fails with EMFILE.
        while (openFds(server.pid) < limit - 1 && hogs.length < limit) {
          const before = openFds(server.pid);
          const socket = await open(server.port);
          socket.write('GET /cgi-bin/hello.sh HTTP/1.1\r\nHost: 127.0.0.1\r\n');
          hogs.push(socket);
          await eventually(() => openFds(server.pid) > before, 2000, 'the server to accept');
        }
        // One at a time, each on a connection closed after its answer. 0: no answer (the
        // connection dropped at accept); anything else must be a status that says so.
        const answers: number[] = [];
        for (let i = 0; i < 4; i++) answers.push(await statusOf(server.port, '/cgi-bin/hello.sh', 5000));
        await sleep(500);
        assert.ok(
          isRunning(server.pid),
          `the server died (answers ${answers.join(', ')}): ${server.launched
            .output()
            .split('\n')
            .filter((line) => /Error|EMFILE/.test(line))
            .slice(0, 2)
            .join(' | ')}`,
        );
        for (const status of answers) assert.ok(status === 0 || status === 500 || status === 503 || status === 200, `answered ${status}`);
        // At least one start failed and was answered, and the error log names the cause.
        assert.ok(answers.includes(500) || answers.includes(503), `no spawn failed (answers ${answers.join(', ')}): the limit was not reached`);
        assert.match(server.launched.output(), /EMFILE|ENFILE/, 'the error log names the descriptor limit');
        for (const socket of hogs.splice(0)) socket.destroy();
        await untilAnswered(server.port, '/cgi-bin/hello.sh', 200, 5000, 'once the descriptors were back');
      } finally {
        for (const socket of hogs) socket.destroy();
        await server.stop();
      }
    });

  for (const mode of modes) {
    it(`(${mode}) clients that leave in the middle of a large response free their slots`, async () => {
      const server = await serve(mode, { args: ['--max-concurrency', '2'] });
      try {
        for (let i = 0; i < 8; i++) {
          const socket = await open(server.port);
          const firstBytes = new Promise<void>((resolve) => socket.once('data', () => resolve()));
          socket.write(get('/cgi-bin/big.js?kb=8192'));
          await Promise.race([firstBytes, sleep(5000)]);
          socket.destroy(); // with megabytes still unread in the script's stdout
        }
        await untilAnswered(server.port, '/cgi-bin/hello.js', 200, 6000, 'after 8 clients left mid-response');
      } finally {
        await server.stop();
      }
    });
  }

  const throwing = {
    'timer-throw.js':
      "export default async function ({ stdout }) {\n  setTimeout(() => { throw new Error('timer-throw.js: a bug in a callback') }, 10);\n  stdout.write('Content-Type: text/plain\\r\\n\\r\\nstarted\\n');\n}\n",
    'unawaited.js':
      "export default async function ({ stdout }) {\n  Promise.reject(new Error('unawaited.js: nobody awaits this'));\n  stdout.write('Content-Type: text/plain\\r\\n\\r\\nstarted\\n');\n}\n",
  };

  for (const mode of ['embedded', 'fastcgi'] as const) {
    for (const script of Object.keys(throwing)) {
      it(`#4 (${mode}) a handler whose callback fails (${script}) costs no other request and the server keeps serving`, {}, async () => {
        const server = await serve(mode, { scripts: throwing, args: mode === 'embedded' ? ['--processes', '1'] : ['--workers', '1'] });
        try {
          // A request in flight on the same process when the bug strikes.
          const inFlight = rawRequest(server.port, get('/cgi-bin/slow.js?ms=1500'), 10_000).catch(() => undefined);
          await sleep(300);
          await rawRequest(server.port, get(`/cgi-bin/${script}`), 5000).catch(() => undefined);
          const slow = await inFlight;
          assert.equal(slow?.status, 200, 'the request in flight alongside was answered');
          assert.ok(slow?.complete, 'and completely');
          assert.ok(isRunning(server.pid), 'the server is alive');
          assert.equal(await statusOf(server.port, '/cgi-bin/hello.js'), 200);
        } finally {
          await server.stop();
        }
      });
    }
  }

  for (const mode of ['embedded', 'fastcgi'] as const) {
    it(`#4 (${mode}) a callback that throws before its handler printed anything fails that request at once, and the log names the script`, async () => {
      const script =
        "export default async function () {\n  await new Promise(() => setTimeout(() => { throw new Error('late.js: a bug in a callback') }, 10));\n}\n";
      const server = await serve(mode, { scripts: { 'late.js': script }, args: ['--timeout', '20s'] });
      try {
        const answer = await rawRequest(server.port, get('/cgi-bin/late.js'), 10_000);
        // Embedded: the server's own code failed (500). FastCGI: the application ended the request
        // with no response, which a web server answers 502, as nginx does.
        assert.equal(answer.status, mode === 'embedded' ? 500 : 502, 'answered when the callback failed, not at --timeout');
        await eventually(
          () => /late\.js.*a callback of its handler failed: Error: late\.js: a bug in a callback/.test(server.launched.output()),
          5000,
          'the error log to name late.js',
        );
        assert.equal(await statusOf(server.port, '/cgi-bin/hello.js'), 200);
      } finally {
        await server.stop();
      }
    });
  }

  it(`#4 (embedded --processes 1) a throw in a handler's timer leaves a server that answers`, {}, async () => {
    const server = await serve('embedded', { scripts: throwing, args: ['--processes', '1'] });
    try {
      await rawRequest(server.port, get('/cgi-bin/timer-throw.js'), 5000).catch(() => undefined);
      await sleep(500);
      await untilAnswered(server.port, '/cgi-bin/hello.js', 200, 6000, 'after the throw');
    } finally {
      await server.stop();
    }
  });

  it('#13 (fastcgi) a hung handler stopped at --timeout costs no other request in flight on its worker', async () => {
    // The request alongside waits for a file the test writes once the hung one has had its 504:
    // it is in flight on the same worker when the hung one is stopped, whatever the machine's pace.
    const waits =
      "import { existsSync } from 'node:fs';\nexport default async function ({ stdout }) {\n" +
      "  while (!existsSync('$TMP/go')) await new Promise((resolve) => setTimeout(resolve, 50));\n" +
      "  stdout.write('Content-Type: text/plain\\r\\n\\r\\nwaited\\n');\n}\n";
    const server = await serve('fastcgi', { scripts: { 'waits.js': waits }, args: ['--timeout', '3s', '--workers', '1'] });
    try {
      const hung = rawRequest(server.port, get('/cgi-bin/hang.js'), 10_000);
      await sleep(1500);
      const alongside = rawRequest(server.port, get('/cgi-bin/waits.js'), 10_000);
      assert.equal((await hung).status, 504);
      await writeFile(join(server.dir, 'go'), '');
      const answer = await alongside;
      assert.equal(answer.status, 200, 'the request in flight alongside was answered');
      assert.match(answer.body.toString(), /waited/);
    } finally {
      await server.stop();
    }
  });

  // CGI mode starts programs two ways (the spawn helper, or a fork of the server): both are held.
  const runners = [
    { mode: 'cgi', label: 'cgi', args: [] },
    { mode: 'cgi', label: 'cgi --spawn node', args: ['--spawn', 'node'] },
    { mode: 'fastcgi', label: 'fastcgi', args: [] },
  ] as const;
  for (const { mode, label, args } of runners) {
    it(`#7 (${label}) a child that leaves the process group holding stdout does not pin the request past --timeout`, async () => {
      const server = await serve(mode, {
        args: ['--timeout', '2s', ...args],
        // The script hangs until --timeout kills its group; the escapee, in a session of its own,
        // lives on with the stdout pipe. Its pid is recorded so the test can end it: no process group or session holds it.
        scripts: { 'escape.sh': '#!/bin/sh\nsetsid sleep 25 &\necho $! > $TMP/escapee.pid\nsleep 60\n' },
      });
      try {
        const response = await rawRequest(server.port, get('/cgi-bin/escape.sh'), 10_000).catch((error: Error) => error);
        assert.ok(!(response instanceof Error), `no answer within 10 s with --timeout 2s: ${response}`);
        assert.equal(response.status, 504);
      } finally {
        killRecorded(join(server.dir, 'escapee.pid'));
        await server.stop();
      }
    });

    it(`#8 (${label}) the response ends when the script closes stdout, though it goes on working`, async () => {
      const server = await serve(mode, {
        args: ['--timeout', '20s', ...args],
        scripts: { 'closes-early.sh': "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\ndone\\n'\nexec 1>&-\nsleep 15\n" },
      });
      try {
        const response = await rawRequest(server.port, get('/cgi-bin/closes-early.sh'), 6000).catch((error: Error) => error);
        assert.ok(!(response instanceof Error), `no complete answer within 6 s: ${response}`);
        assert.equal(response.status, 200);
        assert.ok(response.complete, 'the body is complete');
        assert.equal(response.body.toString(), 'done\n');
      } finally {
        await server.stop();
      }
    });
  }

  for (const mode of modes) {
    it(`#9 (${mode}) two disagreeing Content-Length headers from a script are a 502`, async () => {
      const server = await serve(mode, {
        scripts: {
          'two-lengths.js':
            "export default async function ({ stdout }) {\n  stdout.write('Content-Type: text/plain\\r\\nContent-Length: 5\\r\\nContent-Length: 12\\r\\n\\r\\nhello world\\n');\n}\n",
        },
      });
      try {
        const response = await rawRequest(server.port, get('/cgi-bin/two-lengths.js'));
        assert.equal(response.status, 502, response.head);
      } finally {
        await server.stop();
      }
    });
  }
});

function killRecorded(file: string): void {
  try {
    process.kill(Number(readFileSync(file, 'utf8').trim()), 'SIGKILL');
  } catch {
    // Never started, or already gone.
  }
}
