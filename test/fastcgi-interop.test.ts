// Interop with software nobody here wrote: libfcgi's `cgi-fcgi -bind -connect ADDR` is the web
// server, our application side (src/fastcgi/app.ts) answers. cgi-fcgi turns its environment
// into PARAMS and its stdin into STDIN, and prints STDOUT: the params must come back exactly.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test, type TestContext } from 'node:test';
import { createApp } from '../src/fastcgi/app.ts';

const T = { timeout: 20_000 };
const cgiFcgi = spawnSync('/bin/sh', ['-c', 'command -v cgi-fcgi'], { encoding: 'utf8' }).stdout?.trim() ?? '';
const MISSING = 'cgi-fcgi not installed: apt-get install libfcgi-bin';

/** Echoes the params, and the body's length and digest, as JSON. */
const app = createApp(
  async ({ params, stdin }) => {
    const hash = createHash('sha256');
    let length = 0;
    for await (const chunk of stdin) hash.update(chunk), (length += chunk.length);
    const json = JSON.stringify({ params, length, sha256: hash.digest('hex') });
    return { stdout: Readable.from([`Content-Type: application/json\r\n\r\n${json}`]), finished: Promise.resolve(0) };
  },
  { log: () => {} },
);

/** Listens on a unix socket or TCP port; returns the name cgi-fcgi's -connect takes. */
async function listen(t: TestContext, transport: 'unix' | 'tcp'): Promise<string> {
  const server = createServer({ allowHalfOpen: true }, app.serve);
  t.after(() => server.close());
  if (transport === 'tcp') {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return `127.0.0.1:${(server.address() as { port: number }).port}`;
  }
  const dir = mkdtempSync(join(tmpdir(), 'webhist-fcgi-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  server.listen(join(dir, 'app.sock'));
  await once(server, 'listening');
  return join(dir, 'app.sock');
}

/** Runs one request through cgi-fcgi: `env` becomes PARAMS, `body` STDIN. */
async function cgiFcgiRequest(connect: string, env: Record<string, string>, body: Buffer) {
  const child = spawn(cgiFcgi, ['-bind', '-connect', connect], { env });
  const out: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
  child.stdin.on('error', () => {}); // a failing child shows in its exit status
  child.stdin.end(body);
  const [code] = await once(child, 'close');
  assert.equal(code, 0, 'cgi-fcgi exit status');
  const text = Buffer.concat(out).toString();
  const [head, json] = text.split('\r\n\r\n');
  assert.equal(head, 'Content-Type: application/json');
  return JSON.parse(json!);
}

for (const transport of ['unix', 'tcp'] as const) {
  test(`cgi-fcgi over ${transport}: GET, params echoed exactly`, T, async (t) => {
    if (!cgiFcgi) return t.skip(MISSING);
    const connect = await listen(t, transport);
    const env = {
      GATEWAY_INTERFACE: 'CGI/1.1',
      REQUEST_METHOD: 'GET',
      SCRIPT_NAME: '/cgi-bin/printenv.js',
      QUERY_STRING: 'a=1&b=%20&c=é',
      HTTP_X_LONG: 'x'.repeat(300), // a 4-byte value length
      ['L'.repeat(130)]: 'a 4-byte name length',
      EMPTY: '',
    };
    const answer = await cgiFcgiRequest(connect, env, Buffer.alloc(0));
    assert.deepEqual(answer.params, env);
    assert.equal(answer.length, 0);
  });

  test(`cgi-fcgi over ${transport}: POST of 200 KB, body intact`, T, async (t) => {
    if (!cgiFcgi) return t.skip(MISSING);
    const connect = await listen(t, transport);
    const body = Buffer.alloc(200 * 1024);
    for (let i = 0; i < body.length; i++) body[i] = (i * 31) & 0xff;
    const env = { REQUEST_METHOD: 'POST', CONTENT_LENGTH: String(body.length), CONTENT_TYPE: 'application/octet-stream' };
    const answer = await cgiFcgiRequest(connect, env, body);
    assert.deepEqual(answer.params, env);
    assert.equal(answer.length, body.length);
    assert.equal(answer.sha256, createHash('sha256').update(body).digest('hex'));
  });
}
