/**
 * Interop: our web-server side (FastCGI mode's client) in front of applications nobody here
 * wrote: fcgiwrap, a libfcgi C program under spawn-fcgi, php-fpm (all through --fastcgi-connect),
 * and php-cgi as a worker of our own pool, holding the listening socket as fd 0.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createFastCgiMode } from '../modes/fastcgi/index.ts';
import { shippedCgiBin } from '../src/package-root.ts';
import { eventually } from './support/http.ts';
import { descendants, isRunning, missing, spawnFcgi, startFcgiwrap, startPhpFpm, stopAll, tempDir, type Peer } from './support/peers.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const scripts = {
  'sapi.php': '<?php header("Content-Type: text/plain"); echo PHP_SAPI, " ", getmypid(), "\\n";\n',
  'echo.php': '<?php header("Content-Type: application/octet-stream"); echo file_get_contents("php://input");\n',
  'cat.sh': '#!/bin/sh\nprintf "Content-Type: application/octet-stream\\r\\n\\r\\n"\nexec cat\n',
  'parent.sh': '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n"\necho "$PPID"\n',
};

let tmp: Awaited<ReturnType<typeof tempDir>> | undefined;
const servers: TestServer[] = [];
before(async () => (tmp = await tempDir()));
after(async () => {
  for (const server of servers) await server.stop();
  await stopAll(); // throws if any peer left a process behind
  await tmp?.remove();
});

/** A webhist server whose FastCGI mode sends every request to the application at `socket`. */
async function connectedTo(socket: string, prepare?: (cgiBin: string) => Promise<void>): Promise<TestServer> {
  const server = await startTestServer(async ({ cgiBin, logger }) => {
    await prepare?.(cgiBin);
    return createFastCgiMode({ cgiBin, logger, connect: `unix:${socket}`, workers: 1, pm: 'static', maxRequests: 0, trace: false });
  }, scripts);
  servers.push(server);
  return server;
}

async function roundTrip(base: string, path: string, size = 150_000): Promise<void> {
  const sent = randomBytes(size);
  const res = await fetch(`${base}${path}`, { method: 'POST', body: sent });
  assert.equal(res.status, 200);
  const back = Buffer.from(await res.arrayBuffer());
  assert.ok(back.equals(sent), `${sent.length} bytes sent, ${back.length} came back`);
}

describe('→ fcgiwrap (a process per request, forked by fcgiwrap)', { skip: missing('fcgiwrap') }, () => {
  let fcgiwrap: Peer;
  let base: string;
  before(async () => {
    fcgiwrap = await startFcgiwrap(join(tmp!.dir, 'fcgiwrap.sock'));
    // fcgiwrap execs SCRIPT_FILENAME itself, so it must be executable; git has hello.sh 0644.
    const server = await connectedTo(join(tmp!.dir, 'fcgiwrap.sock'), async (cgiBin) => {
      for (const name of ['hello.sh', 'cat.sh', 'parent.sh']) await chmod(join(cgiBin, name), 0o755);
    });
    base = server.url.replace(/\/$/, '');
  });

  it('runs hello.sh', async () => {
    const res = await fetch(`${base}/cgi-bin/hello.sh`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'Hello, world from sh\n');
  });

  it('the script is a child of fcgiwrap, not of anything of ours', async () => {
    const parent = Number(await (await fetch(`${base}/cgi-bin/parent.sh`)).text());
    assert.ok([fcgiwrap.pid, ...descendants(fcgiwrap.pid)].includes(parent), `parent ${parent}`);
  });

  // fcgiwrap writes the whole body to the script before it reads any output: a script that
  // echoes more than the two pipe buffers (64 KiB each) deadlocks under fcgiwrap itself.
  it('streams a request body to the script and its output back', () => roundTrip(base, '/cgi-bin/cat.sh', 60_000));
});

const helloFcgi = join(shippedCgiBin, 'hello-fcgi.cgi');
describe('→ a libfcgi C program under spawn-fcgi (FCGI_Accept loop)', {
  skip: missing('spawn-fcgi') || (!existsSync(helloFcgi) && 'cgi-bin/hello-fcgi.cgi is not built: apt-get install libfcgi-dev, then node scripts/build-c.js'),
}, () => {
  it('one persistent process answers each request, its counter going up', async () => {
    const socket = join(tmp!.dir, 'hello-fcgi.sock');
    const program = await spawnFcgi(socket, [helloFcgi]);
    const base = (await connectedTo(socket)).url;
    for (const n of [1, 2, 3]) {
      const res = await fetch(`${base}cgi-bin/hello-fcgi.cgi`);
      assert.equal(res.status, 200);
      assert.equal(await res.text(), `Hello, world from a libfcgi C program\nrequest ${n} in process ${program.pid}\n`);
    }
  });
});

describe('→ php-fpm (pm = static, pm.max_children = 2)', { skip: missing('php-fpm') }, () => {
  let fpm: Peer;
  let base: string;
  before(async () => {
    const started = await startPhpFpm(tmp!.dir);
    fpm = started.peer;
    base = (await connectedTo(started.socket)).url.replace(/\/$/, '');
  });

  it('runs hello.php', async () => {
    const res = await fetch(`${base}/cgi-bin/hello.php`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    assert.equal(await res.text(), 'Hello, world from PHP\n');
  });

  it('is answered by the fpm-fcgi SAPI in one of the pool children', async () => {
    const children = descendants(fpm.pid);
    assert.equal(children.length, 2);
    for (let i = 0; i < 4; i++) {
      const [sapi, pid] = (await (await fetch(`${base}/cgi-bin/sapi.php`)).text()).trim().split(' ');
      assert.equal(sapi, 'fpm-fcgi');
      assert.ok(children.includes(Number(pid)), `pid ${pid} is not one of ${children.join(', ')}`);
    }
  });

  it('passes a request body to php://input and back', () => roundTrip(base, '/cgi-bin/echo.php'));
});

describe('our pool running php-cgi (serve --mode fastcgi)', { skip: missing('php-cgi') }, () => {
  it('runs .php in a persistent php-cgi holding the listening socket as fd 0, gone after stop', async () => {
    const server = await startTestServer(
      ({ cgiBin, logger }) => createFastCgiMode({ cgiBin, logger, workers: 1, pm: 'static', maxRequests: 0, trace: false }),
      scripts,
    );
    let pid = 0;
    try {
      const base = server.url.replace(/\/$/, '');
      assert.equal(await (await fetch(`${base}/cgi-bin/hello.php`)).text(), 'Hello, world from PHP\n');
      const answers = [];
      for (let i = 0; i < 3; i++) answers.push((await (await fetch(`${base}/cgi-bin/sapi.php`)).text()).trim());
      assert.deepEqual(new Set(answers).size, 1, `one process answered: ${answers.join(', ')}`);
      const [sapi, pidText] = answers[0]!.split(' ');
      assert.equal(sapi, 'cgi-fcgi');
      pid = Number(pidText);
      assert.match(readFileSync(`/proc/${pid}/comm`, 'utf8'), /^php-cgi/);
      assert.ok(isListening(readlinkSync(`/proc/${pid}/fd/0`)), 'fd 0 of php-cgi is a listening socket');
      await roundTrip(base, '/cgi-bin/echo.php');
    } finally {
      await server.stop();
    }
    await eventually(() => !isRunning(pid), 5000, `php-cgi ${pid} to exit`);
  });
});

/** Whether "socket:[INODE]" is a listening unix socket (__SO_ACCEPTCON in /proc/net/unix). */
function isListening(link: string): boolean {
  const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1];
  if (!inode) return false;
  return readFileSync('/proc/net/unix', 'utf8')
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .some((fields) => fields[6] === inode && fields[3] === '00010000');
}
