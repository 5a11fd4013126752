// Our web-server side (src/fastcgi/client.ts) against our application side, over a unix
// socket in a temp dir and over TCP on 127.0.0.1: bodies and responses of many records,
// connection reuse, multiplexing only where GET_VALUES allows it, aborts, backpressure, and
// applications that hang up or cannot be reached.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { test, type TestContext } from 'node:test';
import { parseAddress, formatAddress, type Address } from '../src/fastcgi/address.ts';
import { createApp, type AppHandler, type AppOptions } from '../src/fastcgi/app.ts';
import { FastCgiClient, type ClientOptions } from '../src/fastcgi/client.ts';
import { FastCgiError, FastCgiProtocolError, ProtocolStatus, RecordType, Role } from '../src/fastcgi/protocol.ts';
import { RecordParser, encodeEndRequestBody, encodeRecords, record, streamRecords } from '../src/fastcgi/records.ts';

const T = { timeout: 20_000 }; // every test: a hang is a failure, never a stall

/** Answers with the request's params, body length and body digest; RESPONSE_BYTES asks for a big body. */
const echo: AppHandler = ({ params, stdin }) => {
  const stdout = new PassThrough();
  const finished = (async () => {
    const hash = createHash('sha256');
    let length = 0;
    for await (const chunk of stdin) hash.update(chunk), (length += chunk.length);
    const summary = JSON.stringify({ params, length, sha256: hash.digest('hex') });
    stdout.write(`Content-Type: application/json\r\n\r\n${summary}\n`);
    const size = Number(params.RESPONSE_BYTES ?? 0);
    for (let sent = 0; sent < size; sent += 16384) if (!stdout.write(Buffer.alloc(Math.min(16384, size - sent), 'r'))) await once(stdout, 'drain');
    stdout.end();
    return 0;
  })();
  return { stdout, finished };
};

/** Holds every request until `n` have arrived (so they are in flight together), then answers each with its id. */
function barrier(n: number): AppHandler {
  let arrived = 0;
  const all = Promise.withResolvers<void>();
  return (request) => {
    if (++arrived === n) all.resolve();
    const stdout = new PassThrough();
    const finished = all.promise.then(() => (stdout.end(`Content-Type: text/plain\r\n\r\n${request.id}`), 0));
    return { stdout, finished };
  };
}

/** An app listening on `address`; `accepted` counts connections, the GET_VALUES one included. */
async function startApp(t: TestContext, address: Address, handler: AppHandler = echo, options: AppOptions = {}) {
  const app = createApp(handler, { log: () => {}, ...options });
  let accepted = 0;
  const server: Server = createServer({ allowHalfOpen: true }, (socket) => (accepted++, app.serve(socket)));
  server.listen(address.transport === 'unix' ? address.path : { host: address.host, port: address.port });
  await once(server, 'listening');
  t.after(() => server.close());
  const bound = server.address();
  const where: Address = typeof bound === 'string' ? address : { transport: 'tcp', host: '127.0.0.1', port: bound!.port };
  return { app, where, accepted: () => accepted };
}

function client(t: TestContext, where: Address | string, options?: ClientOptions) {
  const c = new FastCgiClient(where, options);
  t.after(() => c.close());
  return c;
}

async function get(c: FastCgiClient, params: Record<string, string>, stdin?: Readable | Buffer) {
  const response = c.request({ params, stdin });
  const [body, end] = await Promise.all([text(response.stdout), response.ended]);
  return { head: body.slice(0, body.indexOf('\n', body.indexOf('\r\n\r\n') + 4) + 1), body, end };
}

const summary = (head: string) => JSON.parse(head.split('\r\n\r\n')[1]!);

for (const transport of ['unix', 'tcp'] as const) {
  const addressFor = (t: TestContext): Address => {
    if (transport === 'tcp') return { transport, host: '127.0.0.1', port: 0 };
    const dir = mkdtempSync(join(tmpdir(), 'webhist-fcgi-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    return { transport, path: join(dir, 'app.sock') };
  };

  test(`${transport}: GET, params echoed exactly`, T, async (t) => {
    const { where } = await startApp(t, addressFor(t));
    const params = { REQUEST_METHOD: 'GET', QUERY_STRING: 'a=1&b=%C3%A9', HTTP_ACCEPT: 'x'.repeat(300), 'NAME é': 'välue' };
    const { head, end } = await get(client(t, where), params);
    assert.deepEqual(summary(head), { params, length: 0, sha256: createHash('sha256').digest('hex') });
    assert.deepEqual(end, { appStatus: 0, protocolStatus: ProtocolStatus.REQUEST_COMPLETE });
  });

  test(`${transport}: POST of 200 KB streamed as many STDIN records, and a 1 MB response`, T, async (t) => {
    const { where } = await startApp(t, addressFor(t));
    const body = Buffer.alloc(200 * 1024);
    for (let i = 0; i < body.length; i++) body[i] = (i * 7) & 0xff;
    const chunks = Readable.from(
      (function* () {
        for (let i = 0; i < body.length; i += 10_000) yield body.subarray(i, i + 10_000);
      })(),
    );
    const { head, body: all } = await get(client(t, where), { REQUEST_METHOD: 'POST', RESPONSE_BYTES: String(1 << 20) }, chunks);
    assert.equal(summary(head).length, body.length);
    assert.equal(summary(head).sha256, createHash('sha256').update(body).digest('hex'));
    assert.equal(all.length - head.length, 1 << 20);
  });

  test(`${transport}: keep-conn: many requests, one connection`, T, async (t) => {
    const { where, accepted } = await startApp(t, addressFor(t));
    const c = client(t, where);
    await c.values();
    for (let i = 0; i < 50; i++) assert.equal(summary((await get(c, { N: String(i) })).head).params.N, String(i));
    assert.equal(accepted(), 2, 'the GET_VALUES connection and one for all 50 requests');
  });

  test(`${transport}: two concurrent requests share a connection only if the app multiplexes`, T, async (t) => {
    for (const multiplex of [true, false]) {
      const { where, accepted } = await startApp(t, addressFor(t), barrier(2), { multiplex });
      const c = client(t, where);
      assert.equal((await c.values()).multiplex, multiplex);
      const bodies = await Promise.all([1, 2].map(() => text(c.request({ params: {} }).stdout)));
      if (multiplex) assert.deepEqual(bodies.sort(), ['Content-Type: text/plain\r\n\r\n1', 'Content-Type: text/plain\r\n\r\n2']);
      assert.equal(accepted(), multiplex ? 2 : 3, 'GET_VALUES, then one shared or two separate connections');
    }
  });

  test(`${transport}: with spread 2, four concurrent requests share two multiplexed connections`, T, async (t) => {
    const { where, accepted } = await startApp(t, addressFor(t), barrier(4), { multiplex: true });
    const c = client(t, where, { spread: 2 });
    assert.equal((await c.values()).multiplex, true);
    const bodies = await Promise.all([1, 2, 3, 4].map(() => text(c.request({ params: {} }).stdout)));
    // Two connections, two requests each: ids 1 and 2 on both.
    assert.deepEqual(bodies.map((b) => b.split('\r\n\r\n')[1]).sort(), ['1', '1', '2', '2']);
    assert.equal(accepted(), 3, 'GET_VALUES, then two shared connections');
  });

  test(`${transport}: released() says whether END_REQUEST answered an abort in time`, T, async (t) => {
    // One handler ends its output when aborted (the app then answers END_REQUEST); the other never settles.
    let started = Promise.withResolvers<void>();
    const handler: AppHandler = (request) => {
      started.resolve();
      const stdout = new PassThrough();
      const answers = request.params.ANSWERS === '1';
      const finished = new Promise<number>((resolve) => {
        if (answers) request.signal.addEventListener('abort', () => (stdout.end(), resolve(0)), { once: true });
      });
      return { stdout, finished };
    };
    const { where } = await startApp(t, addressFor(t), handler);
    const c = client(t, where, { abortGraceMs: 60_000 });
    for (const [answers, expected] of [
      ['1', true],
      ['0', false],
    ] as const) {
      started = Promise.withResolvers<void>();
      const controller = new AbortController();
      const response = c.request({ params: { ANSWERS: answers }, signal: controller.signal });
      await started.promise; // aborted while its handler runs, not before it began
      controller.abort(new Error('past its time'));
      await assert.rejects(response.ended, /past its time/);
      assert.equal(await response.released(500), expected);
    }
  });

  test(`${transport}: ABORT_REQUEST reaches the handler's signal; the connection is reused after`, T, async (t) => {
    const reached = Promise.withResolvers<unknown>();
    const started = Promise.withResolvers<void>();
    const handler: AppHandler = (request) => {
      if (request.params.SLOW !== '1') return echo(request);
      started.resolve();
      const stdout = new PassThrough();
      const finished = new Promise<number>((resolve) =>
        request.signal.addEventListener('abort', () => (reached.resolve(request.signal.reason), stdout.end(), resolve(3))),
      );
      return { stdout, finished };
    };
    const { where, accepted } = await startApp(t, addressFor(t), handler);
    const c = client(t, where);
    await c.values();
    const controller = new AbortController();
    const response = c.request({ params: { SLOW: '1' }, signal: controller.signal });
    await started.promise;
    controller.abort();
    await assert.rejects(response.ended, { name: 'AbortError' });
    assert.match(String(((await reached.promise) as Error).message), /aborted by the web server/);
    assert.equal(summary((await get(c, { AFTER: '1' })).head).params.AFTER, '1');
    assert.equal(accepted(), 2);
  });

  test(`${transport}: backpressure: an app writing 8 MB waits for a reader that does not read`, T, async (t) => {
    const blocked = Promise.withResolvers<number>();
    const size = 8 << 20;
    const handler: AppHandler = () => {
      const stdout = new PassThrough();
      const finished = (async () => {
        stdout.write('Content-Type: application/octet-stream\r\n\r\n');
        for (let sent = 0; sent < size; sent += 65536) if (!stdout.write(Buffer.alloc(65536))) blocked.resolve(sent), await once(stdout, 'drain');
        stdout.end();
        return 0;
      })();
      return { stdout, finished };
    };
    const { where } = await startApp(t, addressFor(t), handler);
    const response = client(t, where).request({ params: {} });
    assert.ok((await blocked.promise) < size, 'the handler was held back before writing everything');
    let received = 0;
    for await (const chunk of response.stdout) received += chunk.length;
    assert.equal(received, size + 'Content-Type: application/octet-stream\r\n\r\n'.length);
  });

  test(`${transport}: STDERR lines, FILTER data, UNKNOWN_ROLE, no keep-conn`, T, async (t) => {
    const handler: AppHandler = async ({ data }) => {
      const filtered = data ? await text(data) : '';
      return {
        stdout: Readable.from([`Content-Type: text/plain\r\n\r\n${filtered.toUpperCase()}`]),
        // CRLF, a line split across records, one too long for a log line: the rule every mode keeps.
        stderr: Readable.from(['one\r\ntw', 'o\n', 'x'.repeat(5000), '\nthree']),
        finished: Promise.resolve(0),
      };
    };
    const { where, accepted } = await startApp(t, addressFor(t), handler);
    const c = client(t, where, { keepConn: false });
    const lines: string[] = [];
    const response = c.request({ params: {}, role: Role.FILTER, data: Readable.from(['to be ', 'filtered']), onStderr: (l) => lines.push(l) });
    assert.equal(await text(response.stdout), 'Content-Type: text/plain\r\n\r\nTO BE FILTERED');
    await response.ended;
    assert.deepEqual(lines, ['one', 'two', 'x'.repeat(4096), 'x'.repeat(904), 'three']);
    const refused = c.request({ params: {}, role: 7 as Role });
    assert.deepEqual(await refused.ended, { appStatus: 0, protocolStatus: ProtocolStatus.UNKNOWN_ROLE });
    assert.equal(accepted(), 3, 'GET_VALUES, then a connection per request');
  });

  test(`${transport}: an app that hangs up mid-request fails that request, not the process`, T, async (t) => {
    const address = addressFor(t);
    const server = createServer((socket) => socket.once('data', () => socket.destroy()));
    server.listen(address.transport === 'unix' ? address.path : { host: address.host, port: 0 });
    await once(server, 'listening');
    t.after(() => server.close());
    const bound = server.address();
    const where: Address = typeof bound === 'string' ? address : { transport: 'tcp', host: '127.0.0.1', port: bound!.port };
    const response = client(t, where).request({ params: { A: '1' } });
    await assert.rejects(response.ended, (e: Error) => e instanceof FastCgiError && /closed the connection before END_REQUEST of request 1/.test(e.message));
    await assert.rejects(text(response.stdout));
  });
}

test('whole(): a small response that ends well comes as one buffer, and stdout taken after still starts at its first byte', T, async (t) => {
  const { where } = await startApp(t, { transport: 'tcp', host: '127.0.0.1', port: 0 }, () => ({
    output: Buffer.from('Content-Type: text/plain\r\n\r\nsmall'),
    appStatus: 0,
  }));
  const response = client(t, where).request({ params: {} });
  const whole = await response.whole();
  assert.equal(whole?.toString(), 'Content-Type: text/plain\r\n\r\nsmall');
  assert.equal(await text(response.stdout), 'Content-Type: text/plain\r\n\r\nsmall');
  assert.deepEqual(await response.ended, { appStatus: 0, protocolStatus: ProtocolStatus.REQUEST_COMPLETE });
});

test('whole(): undefined for a response still writing, one past 64 KiB, one that failed, or once given up; stdout has every byte', T, async (t) => {
  const { where } = await startApp(t, { transport: 'tcp', host: '127.0.0.1', port: 0 }, ({ params }) => {
    if (params.BIG) return { output: Buffer.alloc(100 * 1024, 'b'), appStatus: 0 };
    if (params.FAILED) return { output: Buffer.from('Status: 500\r\n\r\n'), appStatus: 1 };
    const stdout = new PassThrough();
    stdout.write('Content-Type: text/plain\r\n\r\nfirst ');
    // The rest comes later: the first part arrives in a read of its own.
    const finished = new Promise<number>((resolve) => setTimeout(() => (stdout.end('then the rest'), resolve(0)), 50));
    return { stdout, finished };
  });
  const c = client(t, where);
  const streaming = c.request({ params: {} });
  assert.equal(await streaming.whole(), undefined);
  assert.equal(await text(streaming.stdout), 'Content-Type: text/plain\r\n\r\nfirst then the rest');
  const big = c.request({ params: { BIG: '1' } });
  assert.equal(await big.whole(), undefined);
  assert.equal((await text(big.stdout)).length, 100 * 1024);
  const failed = c.request({ params: { FAILED: '1' } });
  assert.equal(await failed.whole(), undefined);
  assert.equal(await text(failed.stdout), 'Status: 500\r\n\r\n');
  assert.equal((await failed.ended).appStatus, 1);
  const givenUp = c.request({ params: {} });
  const pending = givenUp.whole();
  givenUp.giveUpWhole();
  assert.equal(await pending, undefined);
  assert.equal(await text(givenUp.stdout), 'Content-Type: text/plain\r\n\r\nfirst then the rest');
});

test('an address nobody listens on: a clear error', T, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'webhist-fcgi-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const c = client(t, `unix:${join(dir, 'nobody.sock')}`);
  await assert.rejects(c.request({ params: {} }).ended, /fastcgi: cannot connect to unix:.*nobody\.sock: .*ENOENT/);
  await assert.rejects(c.values(), /cannot connect/);
});

test('parseAddress and formatAddress', () => {
  assert.deepEqual(parseAddress('unix:/tmp/w.sock'), { transport: 'unix', path: '/tmp/w.sock' });
  assert.deepEqual(parseAddress('tcp:127.0.0.1:9000'), { transport: 'tcp', host: '127.0.0.1', port: 9000 });
  assert.deepEqual(parseAddress('tcp:[::1]:9000'), { transport: 'tcp', host: '::1', port: 9000 });
  for (const text of ['tcp:[::1]:9000', 'tcp:localhost:0', 'unix:/x']) assert.equal(formatAddress(parseAddress(text)), text);
  for (const bad of ['', 'unix:', 'tcp:host', 'tcp::9000', 'tcp:h:70000', 'http://x', '/tmp/w.sock'])
    assert.throws(() => parseAddress(bad), /fastcgi: address .* is neither unix:PATH nor tcp:HOST:PORT/);
});

/**
 * A scripted application for the retry tests: `plan(connection, request)` says what the n-th
 * request on the n-th connection gets (both counted from 1; the GET_VALUES connection aside).
 */
async function startScripted(t: TestContext, plan: (connection: number, request: number) => 'serve' | 'refuse' | 'hang up') {
  let connections = 0;
  const server = createServer((socket) => {
    const parser = new RecordParser();
    let index = 0;
    let requests = 0;
    socket.on('error', () => {});
    socket.on('data', (chunk) => {
      for (const r of parser.push(chunk)) {
        if (r.type === RecordType.GET_VALUES) socket.write(encodeRecords([record(RecordType.GET_VALUES_RESULT, 0)]));
        if (r.type === RecordType.BEGIN_REQUEST) {
          index ||= ++connections;
          const what = plan(index, ++requests);
          if (what === 'hang up') return void socket.destroy();
          if (what === 'refuse') socket.write(encodeRecords([record(RecordType.END_REQUEST, r.requestId, encodeEndRequestBody(0, ProtocolStatus.OVERLOADED))]));
        }
        if (r.type === RecordType.STDIN && r.content.length === 0 && plan(index, requests) === 'serve')
          socket.write(
            encodeRecords([
              ...streamRecords(RecordType.STDOUT, r.requestId, Buffer.from(`Content-Type: text/plain\r\n\r\nconnection ${index}`)),
              record(RecordType.END_REQUEST, r.requestId, encodeEndRequestBody(0, ProtocolStatus.REQUEST_COMPLETE)),
            ]),
          );
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  return { transport: 'tcp', host: '127.0.0.1', port: (server.address() as { port: number }).port } as const;
}

test('retry: a kept connection the app dropped is retried, once, for a safe method only', T, async (t) => {
  // Every connection serves one request, then hangs up on the next, as a retiring worker might.
  const where = await startScripted(t, (_connection, request) => (request > 1 ? 'hang up' : 'serve'));
  const c = client(t, where);
  await c.values();
  assert.equal((await get(c, { REQUEST_METHOD: 'GET' })).body, 'Content-Type: text/plain\r\n\r\nconnection 1');
  assert.equal((await get(c, { REQUEST_METHOD: 'GET' })).body, 'Content-Type: text/plain\r\n\r\nconnection 2');
  assert.equal((await get(c, { REQUEST_METHOD: 'HEAD' })).body, 'Content-Type: text/plain\r\n\r\nconnection 3');
  const post = c.request({ params: { REQUEST_METHOD: 'POST' }, stdin: Buffer.from('a=1') });
  await assert.rejects(post.ended, /closed the connection before END_REQUEST/, 'a POST is never sent twice');
});

test('retry: a request the app refused (OVERLOADED) is sent again if its body is in hand', T, async (t) => {
  const where = await startScripted(t, (connection) => (connection === 1 ? 'refuse' : 'serve'));
  const c = client(t, where);
  const post = await get(c, { REQUEST_METHOD: 'POST' }, Buffer.from('a=1'));
  assert.equal(post.body, 'Content-Type: text/plain\r\n\r\nconnection 2');
  const streamed = c.request({ params: { REQUEST_METHOD: 'POST' }, stdin: Readable.from([Buffer.from('a=1')]) });
  const end = await streamed.ended; // connection 3 refuses too, and a consumed stream cannot be replayed
  assert.equal(end.protocolStatus, ProtocolStatus.OVERLOADED);
});

test('askPid: each new connection learns the pid of the process that accepted it', T, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'webhist-fcgi-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { where } = await startApp(t, { transport: 'unix', path: join(dir, 'app.sock') });
  const response = client(t, where, { askPid: true }).request({ params: {} });
  await text(response.stdout);
  assert.equal(response.appPid, process.pid);
  const plain = client(t, where).request({ params: {} });
  await text(plain.stdout);
  assert.equal(plain.appPid, undefined, 'not asked, not known');
});

test('a request body already destroyed aborts the request at once, not at a timeout', T, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'webhist-fcgi-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { where } = await startApp(t, { transport: 'unix', path: join(dir, 'app.sock') });
  const body = new PassThrough();
  body.destroy();
  await once(body, 'close');
  const { ended } = client(t, where).request({ params: { REQUEST_METHOD: 'POST' }, stdin: body });
  await assert.rejects(ended, /destroyed before its end/);
});

test("an exception in the caller's own stderr reader is not charged to the application", T, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'webhist-fcgi-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const noisy: AppHandler = () => ({
    stdout: Readable.from(['Content-Type: text/plain\r\n\r\nok']),
    stderr: Readable.from(['a line\n']),
    finished: Promise.resolve(0),
  });
  const { where } = await startApp(t, { transport: 'unix', path: join(dir, 'app.sock') }, noisy);
  const { ended } = client(t, where).request({
    params: {},
    onStderr: () => {
      throw new TypeError('a bug of ours');
    },
  });
  const error = await ended.then(
    () => undefined,
    (e: Error) => e,
  );
  assert.ok(error, 'the request fails');
  assert.ok(!(error instanceof FastCgiProtocolError), `not a protocol error: ${error.name}: ${error.message}`);
  assert.match(error.message, /a bug of ours/);
});
