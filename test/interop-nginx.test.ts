/**
 * Interop: nginx's fastcgi_pass in front of `webhist worker`, a fresh connection per request
 * and, through an upstream block with keepalive, `fastcgi_keep_conn on` (FCGI_KEEP_CONN, many
 * requests per connection). Then wrk load through each: counts only, never timings.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { shippedCgiBin } from '../src/package-root.ts';
import { get, rawRequest } from './support/http.ts';
import { isRunning, missing, parsePrintenv, startNginx, startWebhistWorker, stopAll, tempDir, wrk, type Peer } from './support/peers.ts';

const variants = [
  { name: 'a connection per request', keepConn: false },
  { name: 'fastcgi_keep_conn on, upstream keepalive', keepConn: true },
];

describe('nginx fastcgi_pass → webhist worker', { skip: missing('nginx') }, () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let root: string;
  let worker: Peer;
  let ports: number[];
  let errorLog: () => string;

  before(async () => {
    tmp = await tempDir();
    root = tmp.dir;
    await cp(shippedCgiBin, join(root, 'cgi-bin'), { recursive: true });
    // Which process ran it, and whose child it was: a plain program is forked per request.
    await writeFile(join(root, 'cgi-bin/pids.sh'), '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n"\necho "$$ $PPID"\n');
    let socket: string;
    ({ peer: worker, socket } = await startWebhistWorker(tmp.dir, ['--cgi-bin', join(root, 'cgi-bin')]));
    ({ ports, errorLog } = await startNginx(
      tmp.dir,
      root,
      variants.map(({ keepConn }) => ({ pass: `unix:${socket}`, keepConn })),
    ));
  });
  after(async () => {
    await stopAll(); // throws if nginx or the worker left a process behind
    await tmp?.remove();
  });

  variants.forEach((variant, i) => {
    describe(variant.name, () => {
      const url = (path: string) => `http://127.0.0.1:${ports[i]}${path}`;

      it('GET hello.js', async () => {
        const res = await fetch(url('/cgi-bin/hello.js'));
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('content-type'), 'text/plain');
        assert.equal(await res.text(), 'Hello, world from a JavaScript handler\n');
      });

      it('printenv.js shows exactly the params nginx sent, request headers as HTTP_*', async () => {
        const res = await rawRequest(ports[i]!, get('/cgi-bin/printenv.js?a=1&b=two', { 'X-Interop': 'yes' }));
        assert.equal(res.status, 200);
        const env = parsePrintenv(res.body.toString());
        assert.match(env.REMOTE_PORT ?? '', /^\d+$/);
        delete env.REMOTE_PORT;
        assert.deepEqual(env, {
          GATEWAY_INTERFACE: 'CGI/1.1',
          SERVER_SOFTWARE: 'nginx',
          REQUEST_METHOD: 'GET',
          QUERY_STRING: 'a=1&b=two',
          CONTENT_TYPE: '',
          CONTENT_LENGTH: '',
          SCRIPT_NAME: '/cgi-bin/printenv.js',
          SCRIPT_FILENAME: join(root, 'cgi-bin/printenv.js'),
          REQUEST_URI: '/cgi-bin/printenv.js?a=1&b=two',
          SERVER_PROTOCOL: 'HTTP/1.1',
          SERVER_ADDR: '127.0.0.1',
          SERVER_PORT: String(ports[i]),
          SERVER_NAME: '',
          REMOTE_ADDR: '127.0.0.1',
          HTTP_HOST: '127.0.0.1',
          HTTP_CONNECTION: 'close',
          HTTP_X_INTEROP: 'yes',
        });
      });

      it('POST echo.js: a body nginx spools to a temp file comes back byte for byte', async () => {
        const sent = randomBytes(300_000); // past client_body_buffer_size (16k)
        const res = await fetch(url('/cgi-bin/echo.js'), { method: 'POST', body: sent, headers: { 'Content-Type': 'application/x-interop' } });
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('content-type'), 'application/x-interop');
        const back = Buffer.from(await res.arrayBuffer());
        assert.ok(back.equals(sent), `${sent.length} bytes sent, ${back.length} came back`);
      });

      it('runs plain programs the fcgiwrap way: a new child of the worker per request', async () => {
        assert.equal(await (await fetch(url('/cgi-bin/hello.sh'))).text(), 'Hello, world from sh\n');
        const first = (await (await fetch(url('/cgi-bin/pids.sh'))).text()).trim().split(' ').map(Number);
        const second = (await (await fetch(url('/cgi-bin/pids.sh'))).text()).trim().split(' ').map(Number);
        assert.equal(first[1], worker.pid);
        assert.equal(second[1], worker.pid);
        assert.notEqual(first[0], second[0]);
      });

      it('wrk -t1 -c8 -d2s on hello.js: no socket errors, no non-2xx', { skip: missing('wrk') }, async (t) => {
        const result = await wrk(url('/cgi-bin/hello.js'));
        t.diagnostic(`${result.requests} requests`);
        assert.ok(result.requests > 0, result.output);
        assert.equal(result.socketErrors, 0, result.output);
        assert.equal(result.non2xx, 0, result.output);
        // The same worker process took all of it, and still answers.
        assert.ok(isRunning(worker.pid));
        assert.equal(await (await fetch(url('/cgi-bin/hello.js'))).text(), 'Hello, world from a JavaScript handler\n');
      });
    });
  });

  it('nginx logged no upstream trouble (nothing at error level or worse)', () => {
    const bad = errorLog()
      .split('\n')
      .filter((line) => /\[(error|crit|alert|emerg)\]/.test(line));
    assert.deepEqual(bad, []);
  });
});
