/**
 * Interop: `webhist worker` as the application, libfcgi's cgi-fcgi (Open Market's own client)
 * as the web server, with the worker listening itself and with spawn-fcgi handing it the
 * listening socket as fd 0 (FCGI_LISTENSOCK_FILENO, FastCGI §2.2).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { shippedCgiBin } from '../src/package-root.ts';
import { eventually } from './support/http.ts';
import {
  cgiFcgi,
  isRunning,
  missing,
  node,
  parsePrintenv,
  spawnFcgi,
  spawnFcgiChildren,
  splitCgi,
  startWebhistWorker,
  stopAll,
  tempDir,
  webhistBin,
} from './support/peers.ts';

const cgiBin = realpathSync(shippedCgiBin);
const script = (name: string) => ({ SCRIPT_FILENAME: join(cgiBin, name), SCRIPT_NAME: `/cgi-bin/${name}` });

let tmp: Awaited<ReturnType<typeof tempDir>> | undefined;
before(async () => (tmp = await tempDir()));
after(async () => {
  await stopAll(); // throws if any peer left a process behind
  await tmp?.remove();
});

/** GET counter.js: "count=N pid=P" from whichever worker process answered. */
async function counter(socket: string): Promise<{ count: number; pid: number }> {
  const { code, stdout, stderr } = await cgiFcgi(socket, { REQUEST_METHOD: 'GET', ...script('counter.js') });
  assert.equal(code, 0, stderr);
  const match = /count=(\d+) pid=(\d+)/.exec(splitCgi(stdout).body.toString());
  assert.ok(match, stdout.toString());
  return { count: Number(match[1]), pid: Number(match[2]) };
}

describe('cgi-fcgi → webhist worker --listen unix:', { skip: missing('cgi-fcgi') }, () => {
  let socket: string;
  before(async () => ({ socket } = await startWebhistWorker(tmp!.dir)));

  it('GET printenv.js sees exactly the params cgi-fcgi sent: nothing added, nothing lost', async () => {
    // cgi-fcgi sends its whole environment as PARAMS, so that environment is exactly this.
    const params = {
      GATEWAY_INTERFACE: 'CGI/1.1',
      REQUEST_METHOD: 'GET',
      ...script('printenv.js'),
      QUERY_STRING: 'a=1&b=%20two',
      SERVER_PROTOCOL: 'HTTP/1.1',
      HTTP_X_QUOTED: 'she said "hi" \\o/',
      HTTP_X_UTF8: 'café, ünïcode ✓',
      EMPTY: '',
      // Past 127 bytes a length takes 4 bytes on the wire (FastCGI §3.4), for names too.
      LONG_VALUE: 'v'.repeat(300),
      [`LONG_NAME_${'N'.repeat(200)}`]: 'short',
    };
    const { code, stdout, stderr } = await cgiFcgi(socket, params);
    assert.equal(code, 0, stderr);
    const { head, body } = splitCgi(stdout);
    assert.equal(head, 'Content-Type: text/plain; charset=utf-8');
    assert.deepEqual(parsePrintenv(body.toString('utf8')), params);
  });

  it('POST echo.js returns the body byte for byte, small and across many 65535-byte records', async () => {
    for (const sent of [Buffer.from('hello\0world\r\n\xff', 'latin1'), randomBytes(200_000)]) {
      const { code, stdout, stderr } = await cgiFcgi(
        socket,
        { REQUEST_METHOD: 'POST', ...script('echo.js'), CONTENT_TYPE: 'application/x-interop', CONTENT_LENGTH: String(sent.length) },
        sent,
      );
      assert.equal(code, 0, stderr);
      const { head, body } = splitCgi(stdout);
      assert.equal(head, `Content-Type: application/x-interop\r\nContent-Length: ${sent.length}`);
      assert.ok(body.equals(sent), `${sent.length} bytes sent, ${body.length} came back, ${body.equals(sent) ? 'same' : 'different'}`);
    }
  });

  it('runs a plain program (hello.sh) the fcgiwrap way', async () => {
    const { code, stdout, stderr } = await cgiFcgi(socket, { REQUEST_METHOD: 'GET', ...script('hello.sh') });
    assert.equal(code, 0, stderr);
    assert.equal(splitCgi(stdout).body.toString(), 'Hello, world from sh\n');
  });
});

describe('spawn-fcgi -- webhist worker (the listening socket as fd 0)', { skip: missing('spawn-fcgi', 'cgi-fcgi') }, () => {
  it('-n: the worker serves the socket it inherited, one process answering request after request', async () => {
    const socket = join(tmp!.dir, 'spawned.sock');
    const worker = await spawnFcgi(socket, [node, webhistBin, 'worker']);
    await worker.waitFor(/serving FastCGI on the listening socket on fd 0/);
    // spawn-fcgi -n execs the application: the pid it started is the worker's.
    assert.deepEqual(await counter(socket), { count: 1, pid: worker.pid });
    assert.deepEqual(await counter(socket), { count: 2, pid: worker.pid });
    const { stdout } = await cgiFcgi(socket, { REQUEST_METHOD: 'GET', ...script('hello.sh') });
    assert.equal(splitCgi(stdout).body.toString(), 'Hello, world from sh\n');
    await worker.stop();
  });

  it('-F 2: two workers accept on one socket, and the second carries on when the first is gone', async () => {
    const socket = join(tmp!.dir, 'forked.sock');
    const pids = await spawnFcgiChildren(tmp!.dir, socket, 2, [node, webhistBin, 'worker']);
    assert.equal(pids.length, 2, `spawn-fcgi wrote pids ${pids.join(', ')}`);
    const first = await counter(socket);
    assert.ok(pids.includes(first.pid), `answered by ${first.pid}, not one of ${pids.join(', ')}`);

    process.kill(first.pid, 'SIGTERM');
    await eventually(() => !isRunning(first.pid), 5000, `worker ${first.pid} to exit`);
    const second = await counter(socket);
    assert.ok(pids.includes(second.pid) && second.pid !== first.pid, `answered by ${second.pid}`);
    assert.equal(second.count, 1, 'the other worker has state of its own');
  });
});
