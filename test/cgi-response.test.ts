// Tests for src/cgi/response.ts: reading a script's header block and planning the response
// (RFC 3875 §6).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CgiOutputError, planResponse, planWholeOutput, readCgiHead, type CgiHead, type ResponsePlan } from '../src/cgi/response.ts';

/** A stream that delivers each chunk on its own turn of the event loop, as a pipe would. */
function feed(chunks: Array<string | Buffer>): Readable {
  const stream = new Readable({ read() {} });
  (async () => {
    for (const chunk of chunks) {
      await new Promise(setImmediate);
      stream.push(typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk);
    }
    stream.push(null);
  })();
  return stream;
}

/** Everything the stream still yields, read the way the server does: piped on. */
async function rest(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk);
      done();
    },
  });
  await pipeline(stream, sink);
  return Buffer.concat(chunks).toString('latin1');
}

async function read(chunks: Array<string | Buffer>) {
  const stream = feed(chunks);
  const head = await readCgiHead(stream);
  return { head, body: await rest(stream) };
}

const ct: [string, string] = ['Content-Type', 'text/plain'];

// Each response kind: what the script prints, the plan, and the body left in the stream.
const kinds: Array<{ name: string; output: string; plan: ResponsePlan; body: string }> = [
  {
    name: 'document',
    output: 'Content-Type: text/html\r\nX-Test: 1\r\n\r\n<p>hi</p>\n',
    plan: {
      kind: 'document',
      status: 200,
      reason: 'OK',
      headers: [
        ['Content-Type', 'text/html'],
        ['X-Test', '1'],
      ],
    },
    body: '<p>hi</p>\n',
  },
  {
    name: 'local redirect',
    output: 'Location: /cgi-bin/hello.sh?x=1\r\n\r\n',
    plan: { kind: 'local-redirect', location: '/cgi-bin/hello.sh?x=1' },
    body: '',
  },
  {
    name: 'local redirect, other fields and body ignored',
    output: 'Content-Type: text/plain\r\nLocation: /x\r\nX-A: b\r\n\r\nignored',
    plan: { kind: 'local-redirect', location: '/x' },
    body: 'ignored',
  },
  {
    name: 'client redirect',
    output: 'Location: https://example.com/a?b#c\r\n\r\n',
    plan: { kind: 'client-redirect', status: 302, reason: 'Found', headers: [['Location', 'https://example.com/a?b#c']] },
    body: '',
  },
  {
    name: 'client redirect with document',
    output: 'Status: 301 Moved Permanently\r\nLocation: http://example.com/new\r\nContent-Type: text/html\r\n\r\n<a href="/new">moved</a>',
    plan: {
      kind: 'client-redirect',
      status: 301,
      reason: 'Moved Permanently',
      headers: [
        ['Location', 'http://example.com/new'],
        ['Content-Type', 'text/html'],
      ],
    },
    body: '<a href="/new">moved</a>',
  },
  {
    name: 'a local path with a Status: the client is redirected',
    output: 'Status: 303 See Other\r\nLocation: /done\r\n\r\n',
    plan: { kind: 'client-redirect', status: 303, reason: 'See Other', headers: [['Location', '/done']] },
    body: '',
  },
  {
    name: 'custom status',
    output: 'Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nnope',
    plan: { kind: 'document', status: 404, reason: 'Not Found', headers: [ct] },
    body: 'nope',
  },
  {
    name: 'custom status and reason',
    output: 'Status: 500 It Broke  \r\nContent-Type: text/plain\r\n\r\n',
    plan: { kind: 'document', status: 500, reason: 'It Broke', headers: [ct] },
    body: '',
  },
  {
    name: 'status without reason: node’s default',
    output: 'Status: 418\r\nContent-Type: text/plain\r\n\r\n',
    plan: { kind: 'document', status: 418, reason: "I'm a Teapot", headers: [ct] },
    body: '',
  },
  {
    name: 'status without reason and no default',
    output: 'Status: 599\r\nContent-Type: text/plain\r\n\r\n',
    plan: { kind: 'document', status: 599, reason: '', headers: [ct] },
    body: '',
  },
  {
    name: 'Status alone, no body',
    output: 'Status: 204 No Content\r\n\r\n',
    plan: { kind: 'document', status: 204, reason: 'No Content', headers: [] },
    body: '',
  },
  {
    name: 'Set-Cookie twice, order and duplicates kept',
    output: 'Set-Cookie: a=1\r\nContent-Type: text/plain\r\nSet-Cookie: b=2\r\n\r\nok',
    plan: {
      kind: 'document',
      status: 200,
      reason: 'OK',
      headers: [['Set-Cookie', 'a=1'], ct, ['Set-Cookie', 'b=2']],
    },
    body: 'ok',
  },
  {
    name: 'Content-Length twice with one value: sent once (RFC 9110 §8.6)',
    output: 'Content-Type: text/plain\r\nContent-Length: 2\r\ncontent-length: 2\r\n\r\nok',
    plan: { kind: 'document', status: 200, reason: 'OK', headers: [ct, ['Content-Length', '2']], contentLength: 2 },
    body: 'ok',
  },
  {
    name: 'LF only',
    output: 'Content-Type: text/plain\nX-A: 1\n\nline1\nline2\n',
    plan: { kind: 'document', status: 200, reason: 'OK', headers: [ct, ['X-A', '1']] },
    body: 'line1\nline2\n',
  },
  {
    name: 'CRLF and LF mixed',
    output: 'Content-Type: text/plain\nX-A: 1\r\nX-B: 2\n\r\n\r\nbody',
    plan: { kind: 'document', status: 200, reason: 'OK', headers: [ct, ['X-A', '1'], ['X-B', '2']] },
    body: '\r\nbody',
  },
  {
    name: 'field names in any case, as written',
    output: 'content-type: text/plain\nSTATUS: 201 Created\n\n',
    plan: { kind: 'document', status: 201, reason: 'Created', headers: [['content-type', 'text/plain']] },
    body: '',
  },
  {
    name: 'connection fields dropped',
    output: 'Content-Type: text/plain\nConnection: close\nTransfer-Encoding: chunked\nKeep-Alive: timeout=5\nUpgrade: h2c\nTE: trailers\nX-A: 1\n\n',
    plan: { kind: 'document', status: 200, reason: 'OK', headers: [ct, ['X-A', '1']] },
    body: '',
  },
  {
    name: 'whitespace around values trimmed, inside kept; empty values ignored',
    output: 'Content-Type:text/plain; charset=utf-8 \t\nX-Empty:\nX-Spaced: \t a  b \n\n',
    plan: {
      kind: 'document',
      status: 200,
      reason: 'OK',
      headers: [
        ['Content-Type', 'text/plain; charset=utf-8'],
        ['X-Spaced', 'a  b'],
      ],
    },
    body: '',
  },
  {
    name: 'bytes past ASCII kept as latin1, one character each',
    output: 'Content-Type: text/plain\nX-Name: caf\xc3\xa9\n\n\xff\x00',
    plan: { kind: 'document', status: 200, reason: 'OK', headers: [ct, ['X-Name', 'caf\xc3\xa9']] },
    body: '\xff\x00',
  },
];

for (const { name, output, plan, body } of kinds) {
  test(`response: ${name}`, async () => {
    const got = await read([output]);
    assert.deepEqual(planResponse(got.head), plan);
    assert.equal(got.body, body);
  });
}

// Output whose header block is broken, with the exact error readCgiHead gives.
const malformed: Array<[output: string, message: string]> = [
  ['', "the script's output ended before the blank line that ends its headers; it printed nothing"],
  ['Content-Type: text/plain\r\n', 'the script\'s output ended before the blank line that ends its headers; its output began "Content-Type: text/plain\\r\\n"'],
  [
    'Content-Type: text/plain\r\nX-Long: 0123456789012345678901234567890123456789',
    'the script\'s output ended before the blank line that ends its headers; its output began "Content-Type: text/plain\\r\\nX-Long: 01234567890123456789012345"...',
  ],
  ['Hello, world\n\n', 'header line 1 has no colon: "Hello, world"'],
  ['HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n', 'header line 1 has no colon: "HTTP/1.1 200 OK"'],
  ['Content-Type: text/plain\n: x\n\n', 'header line 2 has no field name before its colon: ": x"'],
  ['Content Type: text/plain\n\n', 'header line 1 has an invalid field name "Content Type": "Content Type: text/plain"'],
  ['X-Foo : bar\n\n', 'header line 1 has an invalid field name "X-Foo ": "X-Foo : bar"'],
  ['X-F\x00o: bar\n\n', 'header line 1 has an invalid field name "X-F\\u0000o": "X-F\\u0000o: bar"'],
  ['Content-Type: text/plain\r\nX-A: one\r\n two\r\n\r\n', 'header line 3 starts with whitespace, a continuation line, which CGI/1.1 does not allow: " two"'],
  ['X-A: a\x00b\n\n', 'header line 1 has a control character in its value: "X-A: a\\u0000b"'],
  ['X-A: a\rb\n\n', 'header line 1 has a control character in its value: "X-A: a\\rb"'],
  ['Content-Type: text/plain\r\r\n\r\n', 'header line 1 has a control character in its value: "Content-Type: text/plain\\r"'],
  ['X-A: \x7f\n\n', 'header line 1 has a control character in its value: "X-A: \\u007f"'],
];

for (const [output, message] of malformed) {
  test(`malformed: ${JSON.stringify(output)}`, async () => {
    await assert.rejects(readCgiHead(feed([output])), { name: 'CgiOutputError', message });
  });
}

// Header blocks that parse but ask for no response §6.2 defines, with planResponse's error.
const unplannable: Array<[output: string, message: string]> = [
  ['X-Foo: bar\n\n', 'the script printed no Content-Type, Location or Status header'],
  ['\r\nbody', 'the script printed no Content-Type, Location or Status header'],
  ['Content-Type:\nX-A: 1\n\n', 'the script printed no Content-Type, Location or Status header'],
  ...['abc', '99 Old', '100 Continue', '199', '600 Nope', '2000', '200OK', '+200'].map((status): [string, string] => [
    `Status: ${status}\nContent-Type: text/plain\n\n`,
    `Status ${JSON.stringify(status)} is not a final status: a code from 200 to 599, then an optional reason (§6.3.3)`,
  ]),
  [
    'Content-Type: text/plain\nContent-type: text/html\n\n',
    'the script printed Content-type twice; §6.3 allows each of Content-Type, Location and Status once',
  ],
  [
    // Framed by the first, a client believed the second (issue #15, defect 9): never both.
    'Content-Type: text/plain\r\nContent-Length: 5\r\nContent-Length: 12\r\n\r\nhello world\n',
    'the script printed two different Content-Length values (5 and 12): the response cannot be framed',
  ],
  ['Content-Type: text/plain\nContent-Length: 5, 12\n\n', 'the script printed an invalid Content-Length: "5, 12"'],
  ['Status: 200\nStatus: 404\n\n', 'the script printed Status twice; §6.3 allows each of Content-Type, Location and Status once'],
  ['Location: /a\nLocation: /b\n\n', 'the script printed Location twice; §6.3 allows each of Content-Type, Location and Status once'],
  ['Location: relative/path\n\n', 'Location "relative/path" is neither a local path (one "/", then a path) nor an absolute URI (§6.3.2)'],
  ['Location: //evil.example/\n\n', 'Location "//evil.example/" is neither a local path (one "/", then a path) nor an absolute URI (§6.3.2)'],
  ['Location: 1http://x/\n\n', 'Location "1http://x/" is neither a local path (one "/", then a path) nor an absolute URI (§6.3.2)'],
];

for (const [output, message] of unplannable) {
  test(`no plan: ${JSON.stringify(output)}`, async () => {
    const { head } = await read([output]);
    assert.throws(() => planResponse(head), { name: 'CgiOutputError', message });
  });
}

test('CgiOutputError is an Error that names itself', () => {
  const error = new CgiOutputError('x');
  assert.ok(error instanceof Error);
  assert.equal(String(error), 'CgiOutputError: x');
});

// The same output split in two at every byte gives the same head and the same body.
const splitOutputs = [
  'Status: 200 OK\r\nContent-Type: text/plain\r\nSet-Cookie: a=1\r\n\r\nbody\r\n\r\nmore',
  'Content-Type: text/plain\nX-A: 1\n\nline\n\nline\n',
  'Content-Type: text/plain\r\nX-A: 1\n\r\n\n\r\n',
  'Location: /x\n\n',
];

for (const output of splitOutputs) {
  test(`every two-way split of ${JSON.stringify(output)}`, async () => {
    const whole = await read([output]);
    for (let at = 1; at < output.length; at++) {
      const split = await read([output.slice(0, at), output.slice(at)]);
      assert.deepEqual(split, whole, `split at ${at}`);
    }
    const bytewise = await read([...output]);
    assert.deepEqual(bytewise, whole, 'one byte at a time');
  });
}

test('body chunks after the head arrive whole and in order', async () => {
  const got = await read(['Content-Type: text/plain\r\n\r\nfirst,', 'second,', 'third']);
  assert.equal(got.body, 'first,second,third');
});

test('head, body and end in one go', async () => {
  const stream = new Readable({ read() {} });
  stream.push('Content-Type: text/plain\n\nall at once');
  stream.push(null);
  const head: CgiHead = await readCgiHead(stream);
  assert.deepEqual(head.fields, [ct]);
  assert.equal(await rest(stream), 'all at once');
});

test('an object-mode stream of strings', async () => {
  const stream = Readable.from(['Content-Type: text/plain\n', '\ncafé']);
  assert.deepEqual((await readCgiHead(stream)).fields, [ct]);
  assert.equal(Buffer.concat(await stream.toArray()).toString('utf8'), 'café');
});

test('a line of exactly maxLine bytes is accepted, with its CRLF split across chunks', async () => {
  const line = 'X-A: 12345'; // 10 bytes
  for (const chunks of [[`${line}\r\n\r\n`], [`${line}\r`, '\n\r\n'], [`${line}`, '\r\n\r\n']]) {
    const head = await readCgiHead(feed(chunks), { maxLine: 10 });
    assert.deepEqual(head.fields, [['X-A', '12345']]);
  }
});

test('an over-long line', async () => {
  await assert.rejects(readCgiHead(feed(['X-A: 123456\r\n\r\n']), { maxLine: 10 }), {
    message: 'header line 1 is longer than 10 bytes: "X-A: 123456"',
  });
  const long = `Content-Type: text/plain\nX-Long: ${'a'.repeat(9000)}\n\n`;
  await assert.rejects(readCgiHead(feed([long])), {
    message: `header line 2 is longer than 8192 bytes: "X-Long: ${'a'.repeat(52)}"...`,
  });
});

test('a head past maxHead', async () => {
  await assert.rejects(readCgiHead(feed(['X-A: 1\nX-B: 2\nX-C: 3\n\n']), { maxHead: 20 }), {
    message: "the script's headers run past 20 bytes without the blank line that ends them",
  });
});

/** A stream over an endless generator, counting the bytes it was asked for. */
function endless(piece: string) {
  const pulled = { bytes: 0 };
  function* forever() {
    for (;;) {
      pulled.bytes += piece.length;
      yield Buffer.from(piece);
    }
  }
  return { stream: Readable.from(forever(), { objectMode: false }), pulled };
}

test('endless header lines are refused without reading on', async () => {
  const { stream, pulled } = endless('X-Again: and again\r\n');
  await assert.rejects(readCgiHead(stream), {
    message: "the script's headers run past 65536 bytes without the blank line that ends them",
  });
  stream.destroy();
  assert.ok(pulled.bytes < 65536 + 16384, `read ${pulled.bytes} bytes`);
});

test('an endless line is refused without reading on', async () => {
  const { stream, pulled } = endless('X'.repeat(100));
  await assert.rejects(readCgiHead(stream), {
    message: `header line 1 is longer than 8192 bytes: "${'X'.repeat(60)}"...`,
  });
  stream.destroy();
  assert.ok(pulled.bytes < 8192 + 16384, `read ${pulled.bytes} bytes`);
});

test('a stream that fails, or is destroyed, or has already ended', async () => {
  const failing = new Readable({ read() {} });
  failing.push('Content-Type: text/plain\n');
  setImmediate(() => failing.destroy(new Error('read EIO')));
  await assert.rejects(readCgiHead(failing), {
    name: 'CgiOutputError',
    message: "reading the script's output failed: read EIO",
  });

  const destroyed = new Readable({ read() {} });
  setImmediate(() => destroyed.destroy());
  await assert.rejects(readCgiHead(destroyed), {
    message: "the script's output ended before the blank line that ends its headers; it printed nothing",
  });

  const ended = Readable.from([]);
  await ended.toArray();
  await assert.rejects(readCgiHead(ended), {
    message: "the script's output ended before the blank line that ends its headers; it printed nothing",
  });
});

// An output in hand whole (embedded mode's handlers): the same plan and body as head-then-stream.
const wholeCases: Array<[string, string]> = [
  ['CRLF', 'Content-Type: text/plain\r\n\r\nhello\n'],
  ['LF', 'Content-Type: text/plain\nX-A: 1\n\nhello\n'],
  ['mixed, LF before CRLF', 'Content-Type: text/plain\r\nX-A: 1\n\r\nbody with \n\n inside'],
  ['a body that starts with blank lines', 'Status: 200 OK\r\nContent-Type: text/plain\r\n\r\n\r\n\nx'],
  ['a client redirect', 'Location: http://example.test/\r\nContent-Type: text/html\r\n\r\n<a>moved</a>'],
];
for (const [name, text] of wholeCases) {
  test(`a whole output, ${name}: planned as the stream would be`, async () => {
    const output = Buffer.from(text, 'latin1');
    const streamed = Readable.from([output]);
    const plan = planResponse(await readCgiHead(streamed));
    const rest: Buffer[] = [];
    for await (const chunk of streamed) rest.push(chunk);
    for (let twice = 0; twice < 2; twice++) {
      const whole = planWholeOutput(output);
      assert.deepEqual(whole?.plan, plan);
      assert.equal(whole?.body.toString('latin1'), Buffer.concat(rest).toString('latin1'));
    }
  });
}

test('a whole output that is no CGI response gives undefined, for the stream path to word', () => {
  for (const text of [
    'no blank line\r\n',
    'Content-Type: text/plain',
    '\r\nbody without a head',
    'X-Only: 1\r\n\r\nbody',
    ' Content-Type: x\r\n\r\n',
    'Content-Length: 1x\r\nContent-Type: text/plain\r\n\r\n',
  ]) {
    assert.equal(planWholeOutput(Buffer.from(text)), undefined, JSON.stringify(text));
  }
});

test("the same head with another body: the body is this output's own", () => {
  const a = planWholeOutput(Buffer.from('Content-Type: text/plain\r\n\r\nfirst'));
  const b = planWholeOutput(Buffer.from('Content-Type: text/plain\r\n\r\nsecond'));
  assert.equal(a?.body.toString(), 'first');
  assert.equal(b?.body.toString(), 'second');
  assert.equal(a?.plan, b?.plan, 'planned once');
});
