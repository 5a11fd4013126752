/**
 * The CLI as a user meets it: the built bin started as a process, its ready line, its
 * errors (one line, no stack trace), a clean stop on SIGTERM, and `webhist run`.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { packageRoot } from '../src/package-root.ts';
import { after } from 'node:test';
import { descendants } from '../src/proc.ts';
import { eventually, isAlive } from './support/http.ts';

const bin = join(packageRoot, 'bin/webhist.js');

function webhist(...args: string[]) {
  return spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 30_000, cwd: packageRoot });
}

/** Starts `webhist serve`, resolves with its URL once the ready line is printed. */
function serve(...args: string[]) {
  const child = spawn(process.execPath, [bin, 'serve', '--port', '0', ...args], { cwd: packageRoot });
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const ready = new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d;
      const url = /on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out)?.[1];
      if (url) resolve(url);
    });
    child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${err}`)));
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  after(() => child.kill('SIGKILL'));
  return { child, ready, exited, output: () => out, errors: () => err };
}

function expectOneLineError(result: ReturnType<typeof webhist>, pattern: RegExp) {
  assert.notEqual(result.status, 0);
  assert.match(result.stderr, pattern);
  assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
}

describe('webhist serve', () => {
  it('prints one ready line with the URL, serves, and stops cleanly on SIGTERM', async () => {
    const server = serve('--timeout', '20s');
    const url = await server.ready;
    assert.match(server.output(), /^webhist cgi mode on http:\/\/127\.0\.0\.1:\d+\//);
    assert.equal(await (await fetch(`${url}cgi-bin/hello.sh`)).text(), 'Hello, world from sh\n');

    // A request in flight when SIGTERM arrives finishes; then nothing of the server is left.
    const inFlight = fetch(`${url}cgi-bin/slow.js?ms=300`).then((r) => r.text());
    await new Promise((r) => setTimeout(r, 100));
    server.child.kill('SIGTERM');
    assert.match(await inFlight, /slept 300 ms/);
    assert.equal(await server.exited, 0);
    assert.match(server.output(), /"GET \/cgi-bin\/hello\.sh HTTP\/1\.1" 200 21/);
  });

  it('buffers the access log into a pipe, and loses none of it on SIGTERM', async () => {
    // Into a pipe the log is buffered (64 KiB or 1 s, as nginx's buffer=); the buffer is written at exit.
    const server = serve('--mode', 'embedded', '--log-buffer', '1m');
    const url = await server.ready;
    const requests = 300;
    for (let i = 0; i < requests; i++) assert.equal((await fetch(`${url}cgi-bin/hello.js?n=${i}`)).status, 200);
    server.child.kill('SIGTERM');
    assert.equal(await server.exited, 0);
    const logged = server
      .output()
      .split('\n')
      .filter((line) => line.includes('"GET /cgi-bin/hello.js?n='));
    assert.equal(logged.length, requests);
    assert.match(logged.at(-1)!, new RegExp(`"GET /cgi-bin/hello\\.js\\?n=${requests - 1} HTTP/1\\.1" 200 39$`));
  });

  it('kills a running script when stopped', async () => {
    const server = serve('--timeout', '20s');
    const url = await server.ready;
    const stuck = fetch(`${url}cgi-bin/hang.js`).catch(() => undefined);
    const pid = server.child.pid!;
    // The script, not the spawn helper that started it: the descendant running hang.js.
    let scriptPid = 0;
    const runsHang = (p: number) => readFileSync(`/proc/${p}/cmdline`, 'latin1').includes('hang.js');
    await eventually(
      () =>
        (scriptPid =
          descendants(pid).find((p) => {
            try {
              return runsHang(p);
            } catch {
              return false;
            }
          }) ?? 0) > 0,
      10_000,
      'the script started',
    );
    server.child.kill('SIGTERM');
    assert.equal(await server.exited, 0);
    await stuck;
    await eventually(() => !isAlive(scriptPid), 5000, 'the script was killed');
  });

  it('says clearly what is wrong, in one line', async () => {
    expectOneLineError(webhist('serve', '--cgi-bin', '/no/such/dir'), /--cgi-bin \/no\/such\/dir: no such directory/);
    expectOneLineError(webhist('serve', '--mode', 'apache'), /choose one of cgi, fastcgi, embedded/);
    expectOneLineError(webhist('serve', '--port', 'eighty'), /--port eighty: not a whole number from 0 to 65535/);
    expectOneLineError(webhist('serve', '--timeout', 'soon'), /--timeout soon: not a duration/);
    expectOneLineError(webhist('serve', '--no-such-flag'), /unknown option --no-such-flag/);

    const taken = createServer().listen(0, '127.0.0.1');
    await new Promise((r) => taken.once('listening', r));
    const { port } = taken.address() as { port: number };
    expectOneLineError(webhist('serve', '--port', String(port)), new RegExp(`port ${port} on 127.0.0.1 is in use`));
    taken.close();
  });
});

describe('webhist run', () => {
  it('shows the environment in, the bytes out, and the response', () => {
    const result = webhist('run', 'cgi-bin/printenv.js', '--query', 'a=1', '--path-info', '/x', '--header', 'X-Learner: yes');
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /^QUERY_STRING=a=1$/m);
    assert.match(result.stdout, /^PATH_INFO=\/x$/m);
    assert.match(result.stdout, /^HTTP_X_LEARNER=yes$/m);
    assert.match(result.stdout, /^HTTP_HOST=127\.0\.0\.1:8080$/m, 'the Host a browser would send, when none is given');
    assert.match(result.stdout, /Content-Type: text\/plain; charset=utf-8\\r\\n/);
    assert.match(result.stdout, /^HTTP\/1\.1 200 OK$/m);
  });

  it('takes a --header Host in place of the default one', () => {
    const result = webhist('run', 'cgi-bin/printenv.js', '--header', 'Host: example.org:8443');
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /^HTTP_HOST=example\.org:8443$/m);
    assert.match(result.stdout, /^SERVER_NAME=example\.org$/m);
  });

  it('sends a body, and reports a bad response as the 502 a server would send, exiting 1', () => {
    const echo = webhist('run', 'cgi-bin/echo.js', '--method', 'POST', '--data', 'hello=world', '--json');
    assert.equal(echo.status, 0, echo.stderr);
    const report = JSON.parse(echo.stdout);
    assert.equal(report.env.CONTENT_LENGTH, '11');
    assert.equal(report.response.status, 200);
    assert.match(report.stdout.data, /hello=world$/);
    const bad = webhist('run', 'cgi-bin/noheaders.js');
    assert.match(bad.stdout, /HTTP\/1\.1 502 Bad Gateway/);
    assert.equal(bad.status, 1, 'a response the server would send as 5xx fails the command');
  });

  it('refuses a missing script in one line', () => {
    expectOneLineError(webhist('run', 'cgi-bin/nope.sh'), /cgi-bin\/nope\.sh: no such script/);
  });
});

describe('the Node version check', () => {
  const old = ['/usr/bin/node', '/usr/local/bin/node'].find((path) => {
    const version = spawnSync(path, ['--version'], { encoding: 'utf8' }).stdout?.trim();
    return version && Number(version.slice(1).split('.')[0]) < 22;
  });
  it('hands itself over to the pinned Node, as under npm link from another folder', { skip: !old && 'no Node older than 22 on this machine to try' }, () => {
    const result = spawnSync(old!, [bin, '--version'], { encoding: 'utf8', cwd: tmpdir() });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout.trim(), '0.1.0');
  });
  it('refuses an old Node with a clear message where there is no pinned one', { skip: !old && 'no Node older than 22 on this machine to try' }, () => {
    const alone = mkdtempSync(join(tmpdir(), 'webhist-bin-'));
    after(() => rmSync(alone, { recursive: true, force: true }));
    mkdirSync(join(alone, 'bin'));
    copyFileSync(bin, join(alone, 'bin/webhist.js'));
    const result = spawnSync(old!, [join(alone, 'bin/webhist.js'), '--version'], { encoding: 'utf8' });
    assert.equal(result.status, 1);
    assert.match(result.stderr, /Node\.js 22 or newer is needed; this is v\d+/);
  });
});
