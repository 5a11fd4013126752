// serveStatic over real HTTP on loopback: content types, validators, conditional requests,
// index.html and its redirect, methods, and every traversal spelling sent as a raw request
// line (Node's own client and fetch would tidy the path before it left).
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readlink, realpath, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, test } from 'node:test';
import { normalizeRequestPath } from '../src/server/paths.ts';
import { serveStatic } from '../src/server/static.ts';
import { createCgiMode } from '../modes/cgi/index.ts';
import { eventually } from './support/http.ts';
import { startTestServer } from './support/server.ts';
import { splitTarget } from '../src/server/exchange.ts';

let base: string;
let docroot: string;
let server: Server;
let port: number;
// What serveStatic resolved to for each request, in order: the status for the access log.
const handled: Promise<number>[] = [];

// A fixed mtime makes the validators exact: ETag "<mtimeMs hex>-<size hex>".
const MTIME = new Date('2001-02-03T04:05:06.789Z');
const ETAG = `"${MTIME.getTime().toString(16)}-6"`; // a.txt holds 6 bytes
const LAST_MODIFIED = 'Sat, 03 Feb 2001 04:05:06 GMT';
const BIG = 8 * 1024 * 1024;

before(async () => {
  base = await realpath(await mkdtemp(join(tmpdir(), 'webhist-static-')));
  docroot = join(base, 'docroot');
  const files: Record<string, string | Buffer> = {
    'outside/secret.txt': 'secret\n',
    'docroot/index.html': '<h1>home</h1>\n',
    'docroot/a.txt': 'hello\n',
    'docroot/style.css': 'p {}\n',
    'docroot/pic.png': Buffer.from([0x89, 0x50, 0x4e, 0x47]),
    'docroot/blob': 'no extension\n',
    'docroot/json': '{}\n', // a name, not an extension
    'docroot/empty.txt': '',
    'docroot/big.bin': Buffer.alloc(BIG, 0x61),
    'docroot/sub/index.html': '<h1>sub</h1>\n',
    'docroot/.secret': 'secret\n',
    'docroot/%2e%2e': 'a literal name\n',
  };
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(base, path, '..'), { recursive: true });
    await writeFile(join(base, path), content);
  }
  await utimes(join(docroot, 'a.txt'), MTIME, MTIME);
  await symlink('../outside/secret.txt', join(docroot, 'out-link'));
  await symlink('../outside', join(docroot, 'out-dir'));

  // The caller's part, as the server does it: normalise (400 if that fails), then serve.
  server = createServer((req, res) => {
    const path = normalizeRequestPath((req.url ?? '').replace(/\?.*/s, ''));
    if (path === undefined) {
      res.writeHead(400).end();
      return;
    }
    // A CGI local redirect is re-dispatched as a GET whatever the request's own method.
    const method = req.headers['x-local-redirect'] === '1' ? 'GET' : (req.method ?? 'GET');
    handled.push(serveStatic({ req, res, method, query: splitTarget(req.url ?? '/').query }, docroot, path));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await rm(base, { recursive: true, force: true });
});

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Sends one request exactly as written, on its own connection, and reads to the end. */
function raw(method: string, target: string, headers: Record<string, string> = {}): Promise<RawResponse> {
  const head = [`${method} ${target} HTTP/1.1`, `Host: 127.0.0.1:${port}`, 'Connection: close'];
  for (const [name, value] of Object.entries(headers)) head.push(`${name}: ${value}`);
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      const [statusLine = '', ...lines] = text.slice(0, split).split('\r\n');
      const parsed: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        parsed[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({ status: Number(statusLine.split(' ')[1]), headers: parsed, body: text.slice(split + 4) });
    });
    // write, not end: a client's half-close makes Node's server (httpAllowHalfOpen off) hang up.
    socket.write(`${head.join('\r\n')}\r\n\r\n`);
  });
}

/** Sends the request; checks status, the listed headers (undefined: absent), body, and the status returned. */
async function check(
  method: string,
  target: string,
  expected: { status: number; headers?: Record<string, string | undefined>; body?: string },
  requestHeaders: Record<string, string> = {},
): Promise<void> {
  const earlier = handled.length;
  const response = await raw(method, target, requestHeaders);
  assert.equal(response.status, expected.status);
  for (const [name, value] of Object.entries(expected.headers ?? {})) {
    assert.equal(response.headers[name], value, name);
  }
  if (expected.body !== undefined) assert.equal(response.body, expected.body);
  // A 400 is the caller's answer; every other one came from serveStatic, which reports it.
  if (expected.status !== 400) {
    assert.equal(handled.length, earlier + 1);
    assert.equal(await handled[earlier], expected.status);
  }
}

const text = 'text/plain; charset=utf-8';

describe('serving', () => {
  type Headers = Record<string, string | undefined>;
  type Case = [method: string, target: string, status: number, headers: Headers, body: string];
  const cases: Case[] = [
    [
      'GET',
      '/a.txt',
      200,
      {
        'content-type': text,
        'content-length': '6',
        etag: ETAG,
        'last-modified': LAST_MODIFIED,
        'accept-ranges': 'none',
      },
      'hello\n',
    ],
    ['HEAD', '/a.txt', 200, { 'content-type': text, 'content-length': '6', etag: ETAG }, ''],
    ['GET', '/a.txt?x=1', 200, { 'content-length': '6' }, 'hello\n'],
    ['GET', '/', 200, { 'content-type': 'text/html; charset=utf-8' }, '<h1>home</h1>\n'],
    ['GET', '/style.css', 200, { 'content-type': 'text/css; charset=utf-8' }, 'p {}\n'],
    ['GET', '/pic.png', 200, { 'content-type': 'image/png', 'content-length': '4' }, '\x89PNG'],
    ['GET', '/blob', 200, { 'content-type': 'application/octet-stream' }, 'no extension\n'],
    ['GET', '/json', 200, { 'content-type': 'application/octet-stream' }, '{}\n'],
    ['GET', '/empty.txt', 200, { 'content-length': '0' }, ''],
    ['GET', '/sub', 301, { location: '/sub/', 'content-type': text }, '301 Moved Permanently\n'],
    ['GET', '/sub?a=1&b', 301, { location: '/sub/?a=1&b' }, '301 Moved Permanently\n'],
    ['HEAD', '/sub', 301, { location: '/sub/' }, ''],
    ['GET', '/sub/', 200, { 'content-type': 'text/html; charset=utf-8' }, '<h1>sub</h1>\n'],
    ['GET', '/missing', 404, { 'content-type': text, 'content-length': '14' }, '404 Not Found\n'],
    ['HEAD', '/missing', 404, { 'content-length': '14' }, ''],
    ['GET', '/a.txt/', 404, {}, '404 Not Found\n'],
    ['POST', '/a.txt', 405, { allow: 'GET, HEAD' }, '405 Method Not Allowed\n'],
    ['DELETE', '/', 405, { allow: 'GET, HEAD' }, '405 Method Not Allowed\n'],
    ['OPTIONS', '/missing', 405, { allow: 'GET, HEAD' }, '405 Method Not Allowed\n'],
  ];
  for (const [method, target, status, headers, body] of cases) {
    test(`${method} ${target} → ${status}`, async () => {
      await check(method, target, { status, headers, body });
    });
  }

  test('a Range request gets the whole file: a valid answer from a server without ranges', async () => {
    const headers = { 'content-length': '6', 'content-range': undefined };
    await check('GET', '/a.txt', { status: 200, headers, body: 'hello\n' }, { Range: 'bytes=0-1' });
  });

  test('a POST re-dispatched as a GET (CGI local redirect) is served', async () => {
    await check('POST', '/a.txt', { status: 200, body: 'hello\n' }, { 'X-Local-Redirect': '1' });
  });

  test('a big file streams whole', async () => {
    const response = await raw('GET', '/big.bin');
    assert.equal(response.status, 200);
    assert.equal(response.headers['content-length'], String(BIG));
    assert.equal(response.body.length, BIG);
  });
});

describe('nothing outside the docroot, however spelled', () => {
  const cases: [target: string, status: number, body?: string][] = [
    ['/../outside/secret.txt', 400],
    ['/%2e%2e/outside/secret.txt', 400],
    ['/.%2e/outside/secret.txt', 400],
    ['/%2e./outside/secret.txt', 400],
    ['/sub/.%2e/.%2e/outside/secret.txt', 400],
    ['/..%2foutside%2fsecret.txt', 400],
    ['/%2e%2e%2Foutside/secret.txt', 400],
    ['/..%5coutside%5csecret.txt', 400],
    ['/a.txt%00.html', 400],
    ['/%zz', 400],
    ['/cgi-bin/.%2e/%2e%2e/bin/sh', 400],
    // Decoded once, %252e%252e is the literal name "%2e%2e": a file that exists here.
    ['/%252e%252e', 200, 'a literal name\n'],
    ['/%252e%252e/outside/secret.txt', 404],
    ['//etc/passwd', 404],
    ['/sub/%2e%2e/a.txt', 200, 'hello\n'], // a ".." that stays inside is fine
    ['/.secret', 404],
    ['/%2esecret', 404],
    ['/out-link', 404],
    ['/out-dir/secret.txt', 404],
  ];
  for (const [target, status, body] of cases) {
    test(`GET ${target} → ${status}`, async () => {
      await check('GET', target, { status, ...(body === undefined ? {} : { body }) });
    });
  }

  test('a raw backslash path is refused', async () => {
    // Node's parser may refuse it before our handler does; either way it is a 400.
    assert.equal((await raw('GET', '/..\\outside\\secret.txt')).status, 400);
  });
});

describe('conditional requests (RFC 9110 §13)', () => {
  const earlier = 'Sat, 03 Feb 2001 03:05:06 GMT';
  const cases: [name: string, method: string, headers: Record<string, string>, status: number][] = [
    ['If-None-Match: the tag', 'GET', { 'If-None-Match': ETAG }, 304],
    ['If-None-Match: the tag, on HEAD', 'HEAD', { 'If-None-Match': ETAG }, 304],
    ['If-None-Match: the weak tag (weak comparison)', 'GET', { 'If-None-Match': `W/${ETAG}` }, 304],
    ['If-None-Match: a list holding the tag', 'GET', { 'If-None-Match': `"x,y", W/"z", ${ETAG}` }, 304],
    ['If-None-Match: *', 'GET', { 'If-None-Match': '*' }, 304],
    ['If-None-Match: another tag', 'GET', { 'If-None-Match': '"other"' }, 200],
    ['If-None-Match fails, so If-Modified-Since is ignored', 'GET', { 'If-None-Match': '"other"', 'If-Modified-Since': LAST_MODIFIED }, 200],
    ['If-Modified-Since: Last-Modified', 'GET', { 'If-Modified-Since': LAST_MODIFIED }, 304],
    ['If-Modified-Since: an hour before', 'GET', { 'If-Modified-Since': earlier }, 200],
    ['If-Modified-Since: not a date', 'GET', { 'If-Modified-Since': 'yesterday' }, 200],
    ['If-Match: the tag', 'GET', { 'If-Match': ETAG }, 200],
    ['If-Match: *', 'GET', { 'If-Match': '*' }, 200],
    ['If-Match: the weak tag (strong comparison)', 'GET', { 'If-Match': `W/${ETAG}` }, 412],
    ['If-Match: another tag', 'GET', { 'If-Match': '"other"' }, 412],
    ['If-Unmodified-Since: an hour before', 'GET', { 'If-Unmodified-Since': earlier }, 412],
    ['If-Unmodified-Since: Last-Modified', 'GET', { 'If-Unmodified-Since': LAST_MODIFIED }, 200],
    ['If-Match holds, so If-Unmodified-Since is ignored', 'GET', { 'If-Match': ETAG, 'If-Unmodified-Since': earlier }, 200],
  ];
  for (const [name, method, headers, status] of cases) {
    test(`${name} → ${status}`, async () => {
      const expected =
        status === 304
          ? { headers: { etag: ETAG, 'last-modified': LAST_MODIFIED, 'content-length': undefined }, body: '' }
          : status === 200
            ? { headers: { etag: ETAG }, body: method === 'HEAD' ? '' : 'hello\n' }
            : { body: '412 Precondition Failed\n' };
      await check(method, '/a.txt', { status, ...expected }, headers);
    });
  }
});

const noProc = process.platform !== 'linux' && 'needs /proc/self/fd';
test('a client that hangs up mid-body leaves no file descriptor open', { skip: noProc }, async () => {
  const earlier = handled.length;
  await new Promise<void>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', reject);
    socket.once('data', () => {
      socket.destroy();
      resolve();
    });
    socket.write(`GET /big.bin HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
  });
  assert.equal(await handled[earlier], 200); // settles, never rejects: the 200 was sent
  const open: string[] = [];
  for (const fd of await readdir('/proc/self/fd')) {
    open.push(await readlink(join('/proc/self/fd', fd)).catch(() => ''));
  }
  assert.ok(!open.includes(join(docroot, 'big.bin')), 'big.bin is still open');
});

describe('the access log for static files', () => {
  it('records the body bytes sent: the file for GET, the short text for a 404, "-" for HEAD', async () => {
    const server = await startTestServer(() => createCgiMode());
    after(() => server.stop());
    const page = await fetch(`${server.url}sub/index.html`);
    const size = (await page.arrayBuffer()).byteLength;
    await (await fetch(`${server.url}no-such-file.txt`)).arrayBuffer();
    await fetch(`${server.url}sub/index.html`, { method: 'HEAD' });
    const line = (target: string, method = 'GET') => server.access().find((l) => l.includes(`"${method} ${target} HTTP/1.1"`));
    await eventually(() => line('/sub/index.html', 'HEAD') !== undefined, 5000, 'three access-log lines');
    assert.match(line('/sub/index.html') ?? '', new RegExp(`" 200 ${size}$`));
    assert.match(line('/no-such-file.txt') ?? '', /" 404 \d+$/);
    assert.match(line('/sub/index.html', 'HEAD') ?? '', /" 200 -$/);
  });
});
