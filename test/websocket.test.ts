/**
 * WebSocket to cgi-bin scripts, websocketd's way (src/server/websocket.ts, docs/websocket.md),
 * over real sockets: the RFC 6455 handshake typed by hand with the RFC's own key, masked frames
 * built byte by byte, the `ws` client as a browser would use it, in CGI and embedded mode, and
 * FastCGI mode's refusal. Each bad input has its answer here.
 */
import assert from 'node:assert/strict';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createCgiMode } from '../modes/cgi/index.ts';
import { createEmbeddedMode } from '../modes/embedded/index.ts';
import { createFastCgiMode } from '../modes/fastcgi/index.ts';
import { liveProcesses } from '../src/live-events.ts';
import { createLogger } from '../src/server/log.ts';
import { chromiumMissing, resultsPath, withPage } from './support/browser.ts';
import { eventually, get, isAlive, rawRequest } from './support/http.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { envOf, handshakeHeaders, maskedFrame, openSession, rawHandshake, rfcAccept } from './support/websocket.ts';

const scripts = {
  // Its pid, and a background process in its group, then the upper-case echo.
  'pids.sh': '#!/bin/sh\necho $$\nsleep 300 &\necho $!\nwhile read -r line; do echo "$line" | tr a-z A-Z; done\n',
  'quick.sh': '#!/bin/sh\necho bye\n',
  'fails.sh': '#!/bin/sh\necho before\necho oops >&2\nexit 3\n',
  'partial.sh': "#!/bin/sh\nprintf 'no newline'\n",
  'env.sh': '#!/bin/sh\nenv\n',
  // Reads nothing until $TMP/go exists, then says every 64th line's number. Python, because it
  // hands over a line as soon as it has one: mawk waits for a whole buffer, sed -u reads by the byte.
  'gate.sh': `#!/bin/sh
while [ ! -e "$TMP/go" ]; do sleep 0.05; done
exec python3 -c 'import sys
for n, _ in enumerate(sys.stdin.buffer, 1):
    n % 64 or print(n, flush=True)'
`,
  'count.js': `let connections = 0;
export default function ({ stdout }) {
  stdout.write('Content-Type: text/plain\\r\\n\\r\\nan HTTP answer\\n');
}
export async function websocket({ env, messages, send }) {
  connections++;
  send(\`connection \${connections} version \${env.HTTP_SEC_WEBSOCKET_VERSION}\`);
  for await (const message of messages) {
    if (message === 'bye') return;
    if (message === 'throw') throw new Error('asked to');
    send(message.toUpperCase());
  }
}
`,
};
/** The shell scripts written for the test, made executable (startTestServer writes plain files). */
async function withExecutables(server: TestServer): Promise<void> {
  for (const name of Object.keys(scripts)) if (name.endsWith('.sh')) await chmod(join(server.cgiBin, name), 0o755);
}

const quietLogger = createLogger({ format: 'clf', quiet: true });
const modes = [
  { name: 'cgi', create: () => createCgiMode({ spawn: 'helper' }), runsPrograms: true, statePersists: false },
  { name: 'embedded', create: () => createEmbeddedMode({ logger: quietLogger, watchdog: false }), runsPrograms: false, statePersists: true },
];

for (const mode of modes) {
  describe(`WebSocket in ${mode.name} mode`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(mode.create, scripts);
      await withExecutables(server);
    });
    after(() => server.stop());

    it("a handler script's `websocket` entry: messages in, send() out, returning closes with 1000", async () => {
      const session = await openSession(server.port, '/cgi-bin/count.js');
      session.ws.send('hello');
      session.ws.send('two\nlines');
      const replies = await session.received(4);
      assert.match(replies[0]!, /^connection \d+ version 13$/);
      // A message with a newline is two lines, so two messages: as when a program prints it.
      assert.deepEqual(replies.slice(1), ['HELLO', 'TWO', 'LINES']);
      session.ws.send('bye');
      assert.deepEqual(await session.closed, { code: 1000, reason: 'the script exited' });
      assert.deepEqual(session.messages.length, 4);
    });

    it(`module state ${mode.statePersists ? 'persists across connections (one process)' : 'starts fresh for every connection (a process each)'}`, async () => {
      const first = await openSession(server.port, '/cgi-bin/count.js');
      const [a] = await first.received(1);
      first.ws.close(1000);
      await first.closed;
      const second = await openSession(server.port, '/cgi-bin/count.js');
      const [b] = await second.received(1);
      second.ws.close(1000);
      await second.closed;
      const n = (line: string) => Number(/connection (\d+)/.exec(line)![1]);
      if (mode.statePersists) assert.equal(n(b!), n(a!) + 1);
      else assert.deepEqual([n(a!), n(b!)], [1, 1]);
    });

    it('a WebSocket entry that throws closes with 1011, the error in the error log', async () => {
      const mark = server.mark();
      const session = await openSession(server.port, '/cgi-bin/count.js');
      await session.received(1);
      session.ws.send('throw');
      assert.equal((await session.closed).code, 1011);
      await server.waitForError(/count\.js.*asked to/, mark);
    });

    it('the same script still answers plain HTTP with its default export', async () => {
      const res = await fetch(`${server.url}cgi-bin/count.js`);
      assert.equal(await res.text(), 'an HTTP answer\n');
    });

    it('a handler with no WebSocket entry: 400, saying so', async () => {
      const res = await rawRequest(server.port, get('/cgi-bin/hello.js', handshakeHeaders()));
      assert.equal(res.status, 400);
      assert.match(res.body.toString(), /no WebSocket entry/);
    });

    it('bad handshakes: no key 400, a bad key 400, version 8 → 426 naming 13, POST 400, no script 404', async () => {
      const { 'Sec-WebSocket-Key': _key, ...noKey } = handshakeHeaders();
      assert.equal((await rawRequest(server.port, get('/cgi-bin/count.js', noKey))).status, 400);
      assert.equal((await rawRequest(server.port, get('/cgi-bin/count.js', handshakeHeaders({ 'Sec-WebSocket-Key': 'c2hvcnQ=' })))).status, 400);
      const old = await rawRequest(server.port, get('/cgi-bin/count.js', handshakeHeaders({ 'Sec-WebSocket-Version': '8' })));
      assert.equal(old.status, 426);
      assert.equal(old.headers['sec-websocket-version'], '13');
      assert.equal(old.headers.upgrade, 'websocket');
      const post = await rawRequest(server.port, get('/cgi-bin/count.js', handshakeHeaders()).replace(/^GET/, 'POST'));
      assert.equal(post.status, 400);
      assert.equal((await rawRequest(server.port, get('/cgi-bin/nothing-here', handshakeHeaders()))).status, 404);
      assert.equal((await rawRequest(server.port, get('/index.html', handshakeHeaders()))).status, 404);
    });

    it('a binary message is refused with 1003; a message over 1 MiB with 1009', async () => {
      const binary = await openSession(server.port, '/cgi-bin/count.js');
      binary.ws.send(Buffer.from([1, 2, 3]), { binary: true });
      assert.equal((await binary.closed).code, 1003);
      const big = await openSession(server.port, '/cgi-bin/count.js');
      big.ws.send('x'.repeat(2 * 1024 * 1024));
      assert.equal((await big.closed).code, 1009);
    });

    it('each connection is one access-log line: 101, the bytes sent', async () => {
      const session = await openSession(server.port, '/cgi-bin/count.js?from=log');
      await session.received(1);
      session.ws.send('bye');
      await session.closed;
      await eventually(() => server.access().some((line) => line.includes('"GET /cgi-bin/count.js?from=log HTTP/1.1" 101 ')), 5000, 'the access-log line');
      const line = server.access().find((l) => l.includes('count.js?from=log'))!;
      assert.equal(Number(/ 101 (\d+)/.exec(line)![1]), Buffer.byteLength(session.messages[0]!));
    });

    it('the server stopping says 1001 (going away) to every connection, and leaves no script running', async () => {
      const stopping = await startTestServer(mode.create, scripts);
      const session = await openSession(stopping.port, '/cgi-bin/count.js');
      await session.received(1);
      await stopping.stop();
      assert.equal((await session.closed).code, 1001);
      // Its exit is recorded when its pipes have closed, a moment after the server's stop resolves.
      await eventually(() => !liveProcesses().some((p) => p.script === '/cgi-bin/count.js'), 5000, 'no count.js process left');
    });

    if (!mode.runsPrograms) {
      it('a plain program is refused before the upgrade: 500, saying why', async () => {
        const res = await rawRequest(server.port, get('/cgi-bin/upper.sh', handshakeHeaders()));
        assert.equal(res.status, 500);
        assert.match(res.body.toString(), /plain CGI program/);
      });
      return;
    }

    it("RFC 6455 by hand: the RFC's key gets the RFC's accept; masked frames in, unmasked frames out; close answered", async () => {
      const raw = await rawHandshake(server.port, '/cgi-bin/upper.sh', handshakeHeaders());
      assert.equal(raw.status, 101, raw.head);
      assert.equal(raw.headers.upgrade?.toLowerCase(), 'websocket');
      assert.equal(raw.headers['sec-websocket-accept'], rfcAccept);
      // The bytes docs/websocket.md shows: "hello", masked with 37 fa 21 3d.
      const hello = maskedFrame(0x1, Buffer.from('hello'));
      assert.equal(hello.toString('hex'), '818537fa213d5f9f4d5158');
      raw.socket.write(hello);
      const [reply] = await raw.frames(1);
      assert.deepEqual({ ...reply, payload: reply!.payload.toString() }, { fin: true, opcode: 0x1, masked: false, payload: 'HELLO' });
      // A close frame with status 1000 (§5.5.1): the server answers with its own and closes TCP.
      const close = maskedFrame(0x8, Buffer.from([0x03, 0xe8]));
      assert.equal(close.toString('hex'), '888237fa213d3412');
      raw.socket.write(close);
      const [, answer] = await raw.frames(2);
      assert.deepEqual({ ...answer, payload: answer!.payload.toString('hex') }, { fin: true, opcode: 0x8, masked: false, payload: '03e8' });
      await raw.ended;
    });

    it('upper.sh, the shipped demo: each message comes back upper-cased, in order', async () => {
      const session = await openSession(server.port, '/cgi-bin/upper.sh');
      for (const word of ['one', 'two', 'three']) session.ws.send(word);
      assert.deepEqual(await session.received(3), ['ONE', 'TWO', 'THREE']);
      session.ws.close(1000);
      assert.equal((await session.closed).code, 1000);
    });

    it('the client closing ends the script and everything in its process group; the live view saw it', async () => {
      const session = await openSession(server.port, '/cgi-bin/pids.sh');
      const [pid, background] = (await session.received(2)).map(Number);
      assert.ok(isAlive(pid!) && isAlive(background!));
      assert.ok(
        liveProcesses().some((p) => p.pid === pid && p.script === '/cgi-bin/pids.sh'),
        "the status page lists the WebSocket's process",
      );
      session.ws.close(1000);
      await session.closed;
      await eventually(() => !isAlive(pid!) && !isAlive(background!), 5000, 'the script and its background sleep to be gone');
      await eventually(() => !liveProcesses().some((p) => p.pid === pid), 5000, 'the live view to see it exit');
    });

    it('a script that exits at once: its output, then close 1000; exit 3 → 1011 and the error log says why', async () => {
      const quick = await openSession(server.port, '/cgi-bin/quick.sh');
      assert.deepEqual(await quick.closed, { code: 1000, reason: 'the script exited' });
      assert.deepEqual(quick.messages, ['bye']);
      const mark = server.mark();
      const fails = await openSession(server.port, '/cgi-bin/fails.sh');
      assert.equal((await fails.closed).code, 1011);
      assert.deepEqual(fails.messages, ['before']);
      await server.waitForError(/fails\.sh: oops/, mark);
      await server.waitForError(/fails\.sh: exited with status 3: the WebSocket was closed with 1011/, mark);
    });

    it('a last line without its newline is still sent', async () => {
      const session = await openSession(server.port, '/cgi-bin/partial.sh');
      assert.equal((await session.closed).code, 1000);
      assert.deepEqual(session.messages, ['no newline']);
    });

    it("the environment: RFC 3875 variables and the handshake as HTTP_*, nothing of the server's", async () => {
      process.env.WEBHIST_SECRET_FOR_TEST = 'leaked';
      const session = await openSession(server.port, '/cgi-bin/env.sh/extra?a=1', { 'X-Probe': 'yes' });
      await session.closed;
      delete process.env.WEBHIST_SECRET_FOR_TEST;
      const env = envOf(session.messages);
      assert.equal(env.GATEWAY_INTERFACE, 'CGI/1.1');
      assert.equal(env.REQUEST_METHOD, 'GET');
      assert.equal(env.SCRIPT_NAME, '/cgi-bin/env.sh');
      assert.equal(env.PATH_INFO, '/extra');
      assert.equal(env.QUERY_STRING, 'a=1');
      assert.equal(env.REQUEST_URI, '/cgi-bin/env.sh/extra?a=1');
      assert.equal(env.HTTP_UPGRADE, 'websocket');
      assert.equal(env.HTTP_SEC_WEBSOCKET_VERSION, '13');
      assert.equal(env.HTTP_X_PROBE, 'yes');
      assert.equal(env.REMOTE_ADDR, '127.0.0.1');
      assert.equal(env.CONTENT_LENGTH, undefined);
      assert.equal(env.WEBHIST_SECRET_FOR_TEST, undefined);
    });

    it('a flood waits in TCP, not in the server: the socket is paused while the script reads nothing, and nothing is lost', async () => {
      const session = await openSession(server.port, '/cgi-bin/gate.sh');
      const line = 'y'.repeat(512 * 1024);
      // 32 MiB: more than loopback's socket buffers hold, so the rest must wait in the client.
      for (let i = 0; i < 64; i++) session.ws.send(line);
      // The server stops reading: what the client still holds stops shrinking, above zero.
      let last = -1;
      let steady = 0;
      await eventually(
        () => {
          const now = session.ws.bufferedAmount;
          steady = now === last && now > 0 ? steady + 1 : 0;
          last = now;
          return steady >= 25;
        },
        20_000,
        "the client's send buffer to stop draining",
      );
      assert.ok(session.ws.bufferedAmount > 0);
      await writeFile(join(server.dir, 'go'), '');
      assert.deepEqual(await session.received(1, 30_000), ['64']);
      assert.equal(session.ws.bufferedAmount, 0);
      session.ws.close(1000);
      await session.closed;
    });

    it('--max-concurrency counts WebSocket scripts: past it, 503 with Retry-After, for HTTP and WebSocket alike', async () => {
      const limited = await startTestServer(mode.create, scripts, { maxConcurrency: 1 });
      await withExecutables(limited);
      try {
        const holder = await openSession(limited.port, '/cgi-bin/upper.sh');
        const refused = await rawRequest(limited.port, get('/cgi-bin/upper.sh', handshakeHeaders()));
        assert.equal(refused.status, 503);
        assert.equal(refused.headers['retry-after'], '1');
        assert.equal((await fetch(`${limited.url}cgi-bin/hello.sh`)).status, 503);
        holder.ws.close(1000);
        await holder.closed;
        await eventually(async () => (await fetch(`${limited.url}cgi-bin/hello.sh`)).status === 200, 5000, 'the slot to be given back');
      } finally {
        await limited.stop();
      }
    });
  });
}

describe('WebSocket in fastcgi mode', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer(({ cgiBin, logger }) => createFastCgiMode({ cgiBin, logger, workers: 1, pm: 'static', maxRequests: 0, trace: false }));
  });
  after(() => server.stop());

  it('is refused with 501: FastCGI 1.0 has no upgrade', async () => {
    const res = await rawRequest(server.port, get('/cgi-bin/upper.sh', handshakeHeaders()));
    assert.equal(res.status, 501);
    assert.match(res.body.toString(), /FastCGI 1\.0 has requests and responses, no upgrade/);
    assert.equal(res.headers.connection, 'close');
  });
});

describe('upper.html, the demo page, in Chromium', { skip: chromiumMissing }, () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer(() => createCgiMode({ spawn: 'node' }));
  });
  after(() => server.stop());

  it('new WebSocket(...) to upper.sh: typed words come back upper-cased; closing ends the script', async () => {
    await withPage(async (page) => {
      await page.goto(`${server.url}upper.html`);
      await page.getByText('connected: upper.sh is running').waitFor();
      const pid = liveProcesses().find((p) => p.script === '/cgi-bin/upper.sh')?.pid;
      assert.ok(pid && isAlive(pid), "the page's connection has its process");
      await page.getByLabel('message').fill('hello from chromium');
      await page.getByLabel('message').press('Enter');
      await page.getByText('← HELLO FROM CHROMIUM').waitFor();
      await page.screenshot({ path: resultsPath('websocket-upper.png') });
      await page.getByRole('button', { name: 'close' }).click();
      await page.getByText('closed: code 1000 (closed by the page)').waitFor();
      await eventually(() => !isAlive(pid), 5000, 'upper.sh to be stopped when the page closed its connection');
    });
  });
});
