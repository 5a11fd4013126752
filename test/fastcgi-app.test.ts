// The application side (src/fastcgi/app.ts) driven by hand-written records over real sockets:
// exact answers to management records and refused requests, a responder's records, one write
// per record group, FILTER's DATA stream, aborts, hang-ups and garbage.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { PassThrough, Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { test, type TestContext } from 'node:test';
import { createApp, type AppHandler, type AppOptions } from '../src/fastcgi/app.ts';
import { FastCgiError, ProtocolStatus, RecordType, Role } from '../src/fastcgi/protocol.ts';
import { RecordParser, decodeEndRequestBody, encodeBeginRequestBody, encodeRecords, record, streamRecords, type FcgiRecord } from '../src/fastcgi/records.ts';
import { decodeParams, encodeParams } from '../src/fastcgi/params.ts';
import { describeRecord } from '../src/fastcgi/trace.ts';

const T = { timeout: 10_000 }; // every test: a hang is a failure, never a stall

/** A handler that answers with its params as JSON and the length of its body. */
const echo: AppHandler = async ({ params, stdin, data }) => {
  let body = 0;
  for await (const chunk of stdin) body += chunk.length;
  let filtered = '';
  if (data) for await (const chunk of data) filtered += chunk;
  const text = JSON.stringify({ params, body, filtered });
  return { stdout: Readable.from([`Content-Type: application/json\r\n\r\n${text}`]), finished: Promise.resolve(0) };
};

async function startApp(t: TestContext, handler: AppHandler, options: AppOptions = {}) {
  const logs: string[] = [];
  const sockets: Socket[] = [];
  const app = createApp(handler, { log: (m) => logs.push(m), ...options });
  const server: Server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.push(socket);
    app.serve(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const { port } = server.address() as { port: number };
  return { app, logs, sockets, port };
}

/** A raw connection that collects the records the app sends back. */
async function connect(t: TestContext, port: number) {
  const socket = createConnection({ port, host: '127.0.0.1' });
  t.after(() => socket.destroy());
  socket.on('error', () => {}); // the tests that reset connections look at the app, not here
  await once(socket, 'connect');
  const parser = new RecordParser();
  const records: FcgiRecord[] = [];
  let wake = () => {};
  socket.on('data', (chunk) => {
    records.push(...parser.push(chunk));
    wake();
  });
  const closed = once(socket, 'close');
  return {
    socket,
    records,
    closed,
    send: (...rs: FcgiRecord[]) => socket.write(encodeRecords(rs)),
    /** Waits until a record matches. */
    async until(match: (r: FcgiRecord) => boolean): Promise<FcgiRecord[]> {
      while (!records.some(match)) await new Promise<void>((resolve) => (wake = resolve));
      return records;
    },
  };
}

const begin = (id: number, role: number = Role.RESPONDER, flags = 0) => record(RecordType.BEGIN_REQUEST, id, encodeBeginRequestBody(role, flags));
const params = (id: number, pairs: Record<string, string>) => streamRecords(RecordType.PARAMS, id, encodeParams(pairs));
const isEnd = (id: number) => (r: FcgiRecord) => r.type === RecordType.END_REQUEST && r.requestId === id;
const stdoutOf = (records: FcgiRecord[], id: number) =>
  Buffer.concat(records.filter((r) => r.type === RecordType.STDOUT && r.requestId === id).map((r) => r.content)).toString();

test('GET_VALUES: the names asked for, in order, unknown ones left out; exact bytes', T, async (t) => {
  const { port } = await startApp(t, echo, { maxConns: 7, maxReqs: 9 });
  const c = await connect(t, port);
  const ask = encodeParams([
    ['FCGI_MPXS_CONNS', ''],
    ['FCGI_NO_SUCH', ''],
    ['FCGI_MAX_CONNS', ''],
    ['FCGI_MAX_REQS', ''],
  ]);
  c.send(record(RecordType.GET_VALUES, 0, ask));
  const [answer] = await c.until((r) => r.type === RecordType.GET_VALUES_RESULT);
  assert.deepEqual(decodeParams(answer!.content), [
    ['FCGI_MPXS_CONNS', '1'],
    ['FCGI_MAX_CONNS', '7'],
    ['FCGI_MAX_REQS', '9'],
  ]);
  assert.deepEqual(
    encodeRecords([answer!]),
    Buffer.from('\x01\x0a\x00\x00\x00\x33\x05\x00\x0f\x01FCGI_MPXS_CONNS1\x0e\x01FCGI_MAX_CONNS7\x0d\x01FCGI_MAX_REQS9\x00\x00\x00\x00\x00', 'latin1'),
  );
  c.socket.destroy();
});

test('UNKNOWN_TYPE for a management record type it does not know; exact bytes', T, async (t) => {
  const { port } = await startApp(t, echo);
  const c = await connect(t, port);
  c.send(record(200, 0, Buffer.from('?')));
  const [answer] = await c.until((r) => r.type === RecordType.UNKNOWN_TYPE);
  assert.deepEqual(encodeRecords([answer!]), Buffer.from('010b000000080000c800000000000000', 'hex'));
  c.socket.destroy();
});

test('refusals: UNKNOWN_ROLE (then closes), CANT_MPX_CONN, OVERLOADED', T, async (t) => {
  const endOf = (rs: FcgiRecord[], id: number) => decodeEndRequestBody(rs.find(isEnd(id))!.content);
  const first = await startApp(t, echo);
  const a = await connect(t, first.port);
  a.send(begin(1, 9));
  assert.deepEqual(endOf(await a.until(isEnd(1)), 1), { appStatus: 0, protocolStatus: ProtocolStatus.UNKNOWN_ROLE });
  await a.closed; // no FCGI_KEEP_CONN: the application closes after answering

  const lone = await startApp(t, echo, { multiplex: false });
  const b = await connect(t, lone.port);
  b.send(begin(1, Role.RESPONDER, 1), begin(2, Role.RESPONDER, 1));
  assert.deepEqual(endOf(await b.until(isEnd(2)), 2), { appStatus: 0, protocolStatus: ProtocolStatus.CANT_MPX_CONN });
  b.socket.destroy();

  const busy = await startApp(t, echo, { maxReqs: 1 });
  const c = await connect(t, busy.port);
  c.send(begin(1, Role.RESPONDER, 1), begin(2, Role.RESPONDER, 1));
  assert.deepEqual(endOf(await c.until(isEnd(2)), 2), { appStatus: 0, protocolStatus: ProtocolStatus.OVERLOADED });
  c.socket.destroy();
});

/** The lengths of what the app writes on its (first) accepted socket from now on. */
async function countWrites(sockets: Socket[]): Promise<number[]> {
  const writes: number[] = [];
  await new Promise((resolve) => setImmediate(resolve));
  const server = sockets[0]!;
  const write = server.write.bind(server);
  server.write = ((chunk: Buffer, ...rest: never[]) => (writes.push(chunk.length), write(chunk, ...rest))) as typeof server.write;
  return writes;
}

/** A STDOUT record with content, the empty one that closes the stream, END_REQUEST. */
function assertOneStdoutRecord(records: FcgiRecord[]): void {
  assert.deepEqual(
    records.map((r) => [r.type, r.content.length > 0]),
    [
      [RecordType.STDOUT, true],
      [RecordType.STDOUT, false],
      [RecordType.END_REQUEST, true],
    ],
  );
}

test('responder: spec example 2, and the last record group leaves in one write', T, async (t) => {
  const { port, sockets } = await startApp(t, echo);
  const c = await connect(t, port);
  const writes = await countWrites(sockets);
  c.send(
    begin(1),
    record(RecordType.PARAMS, 1, Buffer.from('\x0b\x02SERVER_PORT80\x0b\x0eSER')),
    record(RecordType.PARAMS, 1, Buffer.from('VER_ADDR199.170.183.42')),
    record(RecordType.PARAMS, 1),
    record(RecordType.STDIN, 1, Buffer.from('quantity=100&item=3047936')),
    record(RecordType.STDIN, 1),
  );
  const records = await c.until(isEnd(1));
  assert.deepEqual(JSON.parse(stdoutOf(records, 1).split('\r\n\r\n')[1]!), {
    params: { SERVER_PORT: '80', SERVER_ADDR: '199.170.183.42' },
    body: 25,
    filtered: '',
  });
  assertOneStdoutRecord(records);
  assert.deepEqual(decodeEndRequestBody(records[2]!.content), { appStatus: 0, protocolStatus: 0 });
  assert.equal(writes.length, 1, 'STDOUT, empty STDOUT and END_REQUEST in a single write');
  await c.closed;
});

test('a whole response: its STDOUT records, the empty STDOUT and END_REQUEST in one write; a __proto__ param is data', T, async (t) => {
  let seen: Record<string, string> | undefined;
  const { port, sockets } = await startApp(t, ({ params }) => {
    seen = params;
    return { output: Buffer.from('Content-Type: text/plain\r\n\r\nwhole\n'), appStatus: 3 };
  });
  const c = await connect(t, port);
  const writes = await countWrites(sockets);
  c.send(
    begin(1),
    ...streamRecords(
      RecordType.PARAMS,
      1,
      encodeParams([
        ['A', '1'],
        ['__proto__', 'x'],
      ]),
    ),
    record(RecordType.STDIN, 1),
  );
  const records = await c.until(isEnd(1));
  assert.equal(stdoutOf(records, 1), 'Content-Type: text/plain\r\n\r\nwhole\n');
  assertOneStdoutRecord(records);
  assert.deepEqual(decodeEndRequestBody(records[2]!.content), { appStatus: 3, protocolStatus: 0 });
  assert.equal(writes.length, 1);
  assert.deepEqual(Object.entries(seen!), [
    ['A', '1'],
    ['__proto__', 'x'],
  ]);
  assert.equal(Object.getPrototypeOf(seen), Object.prototype, 'a plain object, its prototype untouched');
  await c.closed;
});

test('stderr, appStatus and a failing handler', T, async (t) => {
  const { port, logs } = await startApp(t, ({ params }) => {
    if (params.FAIL) throw new Error('boom');
    return { stdout: Readable.from(['out']), stderr: Readable.from(['warning\n']), finished: Promise.resolve(938) };
  });
  const c = await connect(t, port);
  c.send(begin(1, Role.RESPONDER, 1), ...params(1, {}), record(RecordType.STDIN, 1));
  c.send(begin(2, Role.RESPONDER, 1), ...params(2, { FAIL: '1' }), record(RecordType.STDIN, 2));
  const records = await c.until(isEnd(2)).then(() => c.until(isEnd(1)));
  const stderr = (id: number) => records.filter((r) => r.type === RecordType.STDERR && r.requestId === id);
  assert.equal(Buffer.concat(stderr(1).map((r) => r.content)).toString(), 'warning\n');
  assert.equal(stderr(1).at(-1)!.content.length, 0, 'STDERR closed by an empty record');
  assert.deepEqual(decodeEndRequestBody(records.find(isEnd(1))!.content).appStatus, 938);
  assert.match(Buffer.concat(stderr(2).map((r) => r.content)).toString(), /fastcgi: request 2 failed: boom/);
  assert.deepEqual(decodeEndRequestBody(records.find(isEnd(2))!.content).appStatus, 1);
  assert.equal(stdoutOf(records, 2), '');
  assert.ok(logs.some((l) => l.includes('boom')));
  c.socket.destroy();
});

test('FILTER: the DATA stream after STDIN; AUTHORIZER served like a responder', T, async (t) => {
  const { port } = await startApp(t, echo);
  const c = await connect(t, port);
  c.send(
    begin(3, Role.FILTER, 1),
    ...params(3, { FCGI_DATA_LENGTH: '5' }),
    ...streamRecords(RecordType.STDIN, 3, Buffer.from('ab')),
    ...streamRecords(RecordType.DATA, 3, Buffer.from('hello')),
    begin(4, Role.AUTHORIZER, 1),
    ...params(4, { REMOTE_USER: 'ann' }),
    record(RecordType.STDIN, 4),
  );
  const records = await c.until(isEnd(3)).then(() => c.until(isEnd(4)));
  assert.deepEqual(JSON.parse(stdoutOf(records, 3).split('\r\n\r\n')[1]!), { params: { FCGI_DATA_LENGTH: '5' }, body: 2, filtered: 'hello' });
  assert.deepEqual(JSON.parse(stdoutOf(records, 4).split('\r\n\r\n')[1]!).params, { REMOTE_USER: 'ann' });
  c.socket.destroy();
});

test('ABORT_REQUEST reaches the handler; END_REQUEST follows once it has finished', T, async (t) => {
  let reason: unknown;
  const { port } = await startApp(t, ({ signal }) => {
    const stdout = new PassThrough();
    stdout.write('partial');
    const finished = new Promise<number>((resolve) => signal.addEventListener('abort', () => ((reason = signal.reason), stdout.end(), resolve(42))));
    return { stdout, finished };
  });
  const c = await connect(t, port);
  c.send(begin(1, Role.RESPONDER, 1), ...params(1, {}), record(RecordType.STDIN, 1, Buffer.from('body')));
  await c.until((r) => r.type === RecordType.STDOUT);
  c.send(record(RecordType.ABORT_REQUEST, 1));
  const records = await c.until(isEnd(1));
  assert.ok(reason instanceof FastCgiError);
  assert.match((reason as Error).message, /aborted by the web server/);
  assert.deepEqual(decodeEndRequestBody(records.find(isEnd(1))!.content), { appStatus: 42, protocolStatus: 0 });
  c.socket.destroy();
});

test('a web server that hangs up mid-request: the handler is aborted, nothing crashes', T, async (t) => {
  const aborted = Promise.withResolvers<void>();
  const { port, app } = await startApp(t, ({ signal, stdin }) => {
    stdin.resume();
    signal.addEventListener('abort', () => aborted.resolve());
    const stdout = new PassThrough(); // never ended: the request is retired all the same
    stdout.write('Content-Type: text/plain\r\n\r\n');
    return { stdout, finished: new Promise<number>((r) => signal.addEventListener('abort', () => r(0))) };
  });
  const c = await connect(t, port);
  c.send(begin(1), ...params(1, {}), record(RecordType.STDIN, 1, Buffer.from('half a bo')));
  await c.until((r) => r.type === RecordType.STDOUT);
  c.socket.resetAndDestroy();
  await aborted.promise;
  while (app.activeRequests > 0 || app.connections > 0) await sleep(5, undefined, { signal: t.signal });
});

test('garbage bytes close that connection, with a log line; others are still served', T, async (t) => {
  const { port, logs } = await startApp(t, echo);
  const bad = await connect(t, port);
  bad.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  await bad.closed;
  assert.match(logs.join('\n'), /fastcgi: record version 71, want 1.*closing the connection/);

  // Go's TestMalformedParams: a pair cut short in the PARAMS stream.
  const cut = await connect(t, port);
  cut.send(begin(1), record(RecordType.PARAMS, 1, Buffer.from([0x04, 0x02, 0x41])), record(RecordType.PARAMS, 1));
  await cut.closed;
  assert.match(logs.join('\n'), /cut short/);

  const good = await connect(t, port);
  good.send(begin(1), ...params(1, { OK: 'yes' }), record(RecordType.STDIN, 1));
  assert.match(stdoutOf(await good.until(isEnd(1)), 1), /"OK":"yes"/);
  await good.closed;
});

test('a PARAMS stream past maxParamsBytes is refused', T, async (t) => {
  const { port, logs } = await startApp(t, echo, { maxParamsBytes: 1000 });
  const c = await connect(t, port);
  c.send(begin(1), ...params(1, { BIG: 'x'.repeat(2000) }));
  await c.closed;
  assert.match(logs.join('\n'), /PARAMS stream exceeds the limit of 1000 bytes/);
});

test('FCGI_WEB_SERVER_ADDRS: a peer not on the list is refused', T, async (t) => {
  const { port, logs } = await startApp(t, echo, { webServerAddrs: ['199.170.183.28'] });
  const c = await connect(t, port);
  await c.closed;
  assert.match(logs.join('\n'), /refusing a connection from 127.0.0.1/);
});

test('trace: every record received and sent, one line each', T, async (t) => {
  const lines: string[] = [];
  const { port } = await startApp(t, echo, { onRecord: (r, direction) => lines.push(describeRecord(r, direction)) });
  const c = await connect(t, port);
  c.send(begin(1), ...params(1, { QUERY_STRING: 'a=1' }), record(RecordType.STDIN, 1));
  await c.until(isEnd(1));
  assert.deepEqual(
    lines.map((l) => l.replace(/ content=.*/, '')),
    ['recv BEGIN_REQUEST id=1', 'recv PARAMS id=1', 'recv PARAMS id=1', 'recv STDIN id=1', 'send STDOUT id=1', 'send STDOUT id=1', 'send END_REQUEST id=1'],
  );
  assert.equal(lines[0], 'recv BEGIN_REQUEST id=1 content=8 padding=0 role=RESPONDER flags=0');
  assert.equal(lines[1], 'recv PARAMS id=1 content=17 padding=7 QUERY_STRING=a=1');
  c.socket.destroy();
});

test('close(): in-flight requests finish, idle connections close, new requests are refused', T, async (t) => {
  const release = Promise.withResolvers<void>();
  const { port, app, logs } = await startApp(t, (request) => {
    const stdout = new PassThrough();
    const finished = release.promise.then(() => (stdout.end('Content-Type: text/plain\r\n\r\ndone'), 0));
    return request.params.WAIT ? { stdout, finished } : echo(request);
  });
  const busy = await connect(t, port);
  const idle = await connect(t, port);
  idle.send(begin(1, Role.RESPONDER, 1), ...params(1, {}), record(RecordType.STDIN, 1));
  await idle.until(isEnd(1));
  busy.send(begin(1, Role.RESPONDER, 1), ...params(1, { WAIT: '1' }), record(RecordType.STDIN, 1));
  while (app.activeRequests === 0) await sleep(5, undefined, { signal: t.signal });

  const closed = app.close();
  await idle.closed;
  busy.send(begin(2, Role.RESPONDER, 1));
  const refused = (await busy.until(isEnd(2))).find(isEnd(2))!;
  assert.deepEqual(decodeEndRequestBody(refused.content), { appStatus: 0, protocolStatus: ProtocolStatus.OVERLOADED });
  release.resolve();
  assert.equal(stdoutOf(await busy.until(isEnd(1)), 1), 'Content-Type: text/plain\r\n\r\ndone');
  await busy.closed;
  await closed;
  const late = await connect(t, port);
  await late.closed;
  assert.match(logs.join('\n'), /refusing a connection: the application is closing/);
});

test('PARAMS that do not end within paramsTimeoutMs close that connection, and only that one', T, async (t) => {
  const { logs, port } = await startApp(t, echo, { paramsTimeoutMs: 300 });
  const stalled = await connect(t, port);
  stalled.send(begin(1), ...streamRecords(RecordType.PARAMS, 1, encodeParams({ HTTP_X: 'x'.repeat(1000) }), false));
  const live = await connect(t, port);
  await stalled.closed;
  assert.ok(
    logs.some((m) => /request 1's PARAMS did not end within 0.3 s/.test(m)),
    logs.join('\n'),
  );
  live.send(begin(1), ...params(1, { A: '1' }), record(RecordType.STDIN, 1));
  await live.until((r) => r.type === RecordType.END_REQUEST);
});

test('a connection with no request for idleTimeoutMs is closed; one in use is not', T, async (t) => {
  const slow: AppHandler = async ({ signal }) => {
    await sleep(600, undefined, { signal }).catch(() => {});
    return { stdout: Readable.from(['Content-Type: text/plain\r\n\r\nslow']), finished: Promise.resolve(0) };
  };
  const { port } = await startApp(t, slow, { idleTimeoutMs: 300 });
  const idle = await connect(t, port);
  const busy = await connect(t, port);
  busy.send(begin(1, Role.RESPONDER, 1), ...params(1, {}), record(RecordType.STDIN, 1));
  await idle.closed;
  await busy.until((r) => r.type === RecordType.END_REQUEST); // its request ran past the idle limit
  assert.equal(busy.socket.readableEnded, false, 'kept while it carried a request');
  await busy.closed; // and closed once idle for the limit after it
});

test('at FCGI_MAX_CONNS the connection idle the longest makes room; with none idle the new one is refused', T, async (t) => {
  const hang: AppHandler = async ({ signal }) => {
    await new Promise((resolve) => signal.addEventListener('abort', resolve));
    return { stdout: Readable.from([]), finished: Promise.resolve(0) };
  };
  const { logs, port } = await startApp(t, hang, { maxConns: 2 });
  const oldest = await connect(t, port);
  await sleep(50);
  const newer = await connect(t, port);
  await sleep(50);
  // A third: the oldest idle one goes.
  const third = await connect(t, port);
  await oldest.closed;
  assert.equal(newer.socket.destroyed, false);
  assert.ok(
    logs.some((m) => /FCGI_MAX_CONNS \(2\) reached: closing the connection idle the longest/.test(m)),
    logs.join('\n'),
  );
  // Both now carry a request: nothing idle to close, so a fourth is refused.
  for (const c of [newer, third]) c.send(begin(1), ...params(1, {}), record(RecordType.STDIN, 1));
  await sleep(100);
  const fourth = await connect(t, port);
  await fourth.closed;
  assert.ok(
    logs.some((m) => /FCGI_MAX_CONNS \(2\) reached, none of them idle/.test(m)),
    logs.join('\n'),
  );
  assert.equal(newer.socket.destroyed || third.socket.destroyed, false, 'the busy ones kept');
});
