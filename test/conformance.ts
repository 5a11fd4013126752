/**
 * The conformance suite: what every mode must do, over real HTTP on loopback against a
 * temporary cgi-bin. Written once and run unchanged against each mode (hono's runTest pattern):
 * conformance({ name: 'cgi', create: createCgiMode, ... }).
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually, get, isAlive, rawRequest } from './support/http.ts';
import { startTestServer, type ModeFactory, type TestServer } from './support/server.ts';

/** The server's own status page (/webhist/status). */
async function statusOf(base: string): Promise<{ server: { running: number } }> {
  return (await fetch(`${base}/webhist/status?json`)).json() as Promise<{ server: { running: number } }>;
}

export interface ModeUnderTest {
  name: string;
  create: ModeFactory;
  /** Plain CGI programs (sh, Perl, C...) run; embedded mode refuses them with a 500. */
  runsPrograms: boolean;
  /** Module-level state survives between requests served by the same process. */
  statePersists: boolean;
}

/** Test-only scripts; $TMP becomes the test's temporary directory. */
const testScripts = {
  // Leaves a background process behind: the server must kill the whole process group.
  'orphan.sh': 'sleep 300 &\necho $! > "$TMP/orphan.pid"\nprintf "Content-Type: text/plain\\r\\n\\r\\nstarted\\n"\n',
  // Records its pid, then blocks: for the timeout and client-disconnect kills.
  'stall.sh': 'echo $$ > "$TMP/stall-$QUERY_STRING.pid"\nexec sleep 300\n',
  'garbage.sh': 'printf "this is not a header\\r\\n\\r\\nbody\\n"\n',
  'stderr.sh': 'echo "something went sideways" >&2\nprintf "Content-Type: text/plain\\r\\n\\r\\nok\\n"\n',
  // CRLF and a 5000-byte line on stderr: every mode logs them by one rule (src/script/stderr-lines.ts).
  'stderr-rule.sh':
    'printf "crlf line\\r\\n" >&2\nhead -c 5000 /dev/zero | tr "\\0" x >&2\nprintf "\\n" >&2\nprintf "Content-Type: text/plain\\r\\n\\r\\nok\\n"\n',
  'args.sh': 'printf "Content-Type: text/plain\\r\\n\\r\\n"\nprintf "%s|" "$@"\n',
  'source.xyz': 'not a program\n',
  // Content-Length frames a kept-alive response: one that lies must not split the next.
  'liar.js': "export default ({ stdout }) => stdout.write('Content-Type: text/plain\\r\\nContent-Length: 5\\r\\n\\r\\nhello world');\n",
  'short.js': "export default ({ stdout }) => stdout.write('Content-Type: text/plain\\r\\nContent-Length: 50\\r\\n\\r\\nhi');\n",
  // Redirects, then closes its output and lingers: the redirect must not wait for it.
  'linger.sh': 'echo $$ > "$TMP/linger.pid"\nprintf "Location: /cgi-bin/hello.js\\r\\n\\r\\n"\nexec >&-\nexec sleep 300\n',
  // Never reads its input.
  'deaf.sh': 'printf "Content-Type: text/plain\\r\\n\\r\\nnot listening\\n"\n',
  // Sends its whole body (framed by Content-Length), then keeps working: a client that has the
  // body and leaves has not gone away, so the work after it must still happen.
  'after-body.js':
    "import { writeFile } from 'node:fs/promises';\nexport default async ({ env, stdout }) => {\n  stdout.write('Content-Type: text/plain\\r\\nContent-Length: 5\\r\\n\\r\\nfirst');\n  await new Promise((resolve) => setTimeout(resolve, 1000));\n  await writeFile(`$TMP/after-body-${env.QUERY_STRING}`, 'done');\n};\n",
  // A local redirect to a directory of the docroot, with a query of its own.
  'to-dir.js': "export default ({ stdout }) => stdout.write('Location: /sub?to=x\\r\\n\\r\\n');\n",
  'cookie.js':
    "export default ({ env, stdout }) => stdout.write(`Set-Cookie: a=1\\r\\nSet-Cookie: b=2\\r\\nContent-Type: text/plain\\r\\n\\r\\n${env.HTTP_COOKIE ?? ''}`);\n",
};

/** Streams for the 'streams' tests: handlers, so that every mode runs them. */
const streamScripts = {
  // An event every 300 ms, ?n= of them (the last one ends the stream); stops if stdout closes.
  'ticker.js':
    "export default async ({ env, stdout }) => {\n  const n = Number(new URLSearchParams(env.QUERY_STRING).get('n'));\n  stdout.write('Content-Type: text/event-stream\\r\\n\\r\\n');\n  for (let i = 1; i <= n && !stdout.destroyed; i++) {\n    stdout.write(`data: tick ${i}\\n\\n`);\n    await new Promise((resolve) => { const t = setTimeout(resolve, 300); stdout.once('close', () => { clearTimeout(t); resolve(); }); });\n  }\n};\n",
  // One event, then silence until the server closes its stdout.
  'goes-quiet.js':
    "export default async ({ stdout }) => {\n  stdout.write('Content-Type: text/event-stream\\r\\n\\r\\ndata: hello\\n\\n');\n  await new Promise((resolve) => { const keep = setInterval(() => {}, 60_000); stdout.once('close', () => { clearInterval(keep); resolve(); }); });\n};\n",
};

export function conformance(subject: ModeUnderTest): void {
  describe(`conformance: ${subject.name} mode`, () => {
    let server: TestServer;
    let base: string;
    const secret = 'webhist-test-secret-that-must-not-leak';

    before(async () => {
      process.env.WEBHIST_TEST_SECRET = secret;
      process.env.HTTP_PROXY = 'http://proxy.invalid:3128';
      server = await startTestServer(subject.create, testScripts, { timeoutMs: 4000, maxConcurrency: 6, maxBody: 4 * 1024 ** 2 });
      base = server.url.replace(/\/$/, '');
    });
    after(async () => {
      delete process.env.WEBHIST_TEST_SECRET;
      delete process.env.HTTP_PROXY;
      await server.stop();
    });

    const fetchText = async (path: string, init?: RequestInit) => {
      const res = await fetch(`${base}${path}`, { redirect: 'manual', ...init });
      return { res, text: await res.text() };
    };

    describe('documents', () => {
      it('runs a handler script', async () => {
        const { res, text } = await fetchText('/cgi-bin/hello.js');
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('content-type'), 'text/plain');
        assert.equal(text, 'Hello, world from a JavaScript handler\n');
      });

      it('runs plain programs in any language, or refuses them clearly', async () => {
        for (const [script, language] of [
          ['hello.sh', 'sh'],
          ['hello.pl', 'Perl'],
          ['hello.py', 'Python'],
          ['hello-plain.js', 'JavaScript'],
        ] as const) {
          const { res, text } = await fetchText(`/cgi-bin/${script}`);
          if (subject.runsPrograms) {
            assert.equal(res.status, 200, script);
            assert.match(text, new RegExp(`Hello, world from .*${language}`, 'i'), script);
          } else {
            assert.equal(res.status, 500, script);
            assert.match(text, /cannot run|plain CGI program/i, script);
          }
        }
      });

      it('gives the script the RFC 3875 environment and nothing of the server', async () => {
        const { text } = await fetchText('/cgi-bin/printenv.js/extra/path?a=1&b=two', {
          headers: { 'X-Custom': 'yes', Proxy: 'http://evil.invalid', Authorization: 'Basic Zm9vOmJhcg==', Cookie: 'c=3' },
        });
        const env = Object.fromEntries([...text.matchAll(/^(\w+)="(.*)"$/gm)].map((m) => [m[1], m[2]]));
        assert.equal(env.GATEWAY_INTERFACE, 'CGI/1.1');
        assert.equal(env.REQUEST_METHOD, 'GET');
        assert.equal(env.SCRIPT_NAME, '/cgi-bin/printenv.js');
        assert.equal(env.PATH_INFO, '/extra/path');
        assert.equal(env.QUERY_STRING, 'a=1&b=two');
        assert.equal(env.REQUEST_URI, '/cgi-bin/printenv.js/extra/path?a=1&b=two');
        assert.equal(env.SERVER_NAME, '127.0.0.1');
        assert.equal(env.SERVER_PORT, String(server.port));
        assert.equal(env.SERVER_PROTOCOL, 'HTTP/1.1');
        assert.equal(env.REMOTE_ADDR, '127.0.0.1');
        assert.equal(env.HTTP_X_CUSTOM, 'yes');
        assert.equal(env.HTTP_COOKIE, 'c=3');
        assert.equal(env.AUTH_TYPE, 'Basic');
        assert.equal(env.HTTP_AUTHORIZATION, undefined, 'Authorization is not passed by default');
        assert.equal(env.HTTP_PROXY, undefined, 'httpoxy: the Proxy header never becomes HTTP_PROXY');
        assert.equal(env.CONTENT_LENGTH, undefined, 'no body, no CONTENT_LENGTH');
        assert.doesNotMatch(text, new RegExp(secret), "the server's environment never reaches a script");
      });

      it('keeps repeated response headers and passes a custom status', async () => {
        const { res, text } = await fetchText('/cgi-bin/cookie.js', { headers: { Cookie: 'x=1' } });
        assert.deepEqual(res.headers.getSetCookie(), ['a=1', 'b=2']);
        assert.equal(text, 'x=1');
        const teapot = await fetchText('/cgi-bin/status.js?code=418');
        assert.equal(teapot.res.status, 418);
        assert.equal(teapot.res.statusText, "I'm a teapot");
      });

      it('answers HEAD with the headers alone', async () => {
        const res = await rawRequest(server.port, `HEAD /cgi-bin/hello.js HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
        assert.equal(res.status, 200);
        assert.equal(res.headers['content-type'], 'text/plain');
        assert.equal(res.body.length, 0);
      });

      it('serves two requests on one kept-alive connection', async () => {
        const two = `GET /cgi-bin/hello.js HTTP/1.1\r\nHost: x\r\n\r\n${get('/cgi-bin/status.js?code=201')}`;
        const res = await rawRequest(server.port, two);
        assert.equal(res.status, 200);
        assert.match(res.raw.toString('latin1'), /Hello, world[\s\S]*\r\nHTTP\/1\.1 201 Created\r\n/);
      });
    });

    describe('bodies', () => {
      it('streams a large request body in and a large response out, byte for byte', async () => {
        const upload = randomBytes(3 * 1024 * 1024);
        const res = await fetch(`${base}/cgi-bin/echo.js`, { method: 'POST', body: upload, headers: { 'Content-Type': 'application/octet-stream' } });
        assert.equal(res.status, 200);
        assert.equal(digest(Buffer.from(await res.arrayBuffer())), digest(upload));
        const big = await fetch(`${base}/cgi-bin/big.js?kb=2048`);
        assert.equal((await big.arrayBuffer()).byteLength, 2048 * 1024);
      });

      it('de-chunks a chunked request body and gives it a CONTENT_LENGTH', async () => {
        const body = 'a=1&b=2';
        const chunked = `POST /cgi-bin/printenv.js HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n3\r\na=1\r\n4\r\n&b=2\r\n0\r\n\r\n`;
        const res = await rawRequest(server.port, chunked);
        assert.equal(res.status, 200);
        assert.match(res.body.toString(), new RegExp(`^CONTENT_LENGTH="${body.length}"$`, 'm'));
      });

      it('refuses a body over --max-body with 413, declared or chunked, and lives on', async () => {
        const res = await rawRequest(server.port, `POST /cgi-bin/echo.js HTTP/1.1\r\nHost: x\r\nContent-Length: ${5 * 1024 ** 2}\r\n\r\n`);
        assert.equal(res.status, 413);
        const chunk = 'x'.repeat(1024 * 1024);
        const chunked = `POST /cgi-bin/echo.js HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${`${chunk.length.toString(16)}\r\n${chunk}\r\n`.repeat(5)}0\r\n\r\n`;
        assert.equal((await rawRequest(server.port, chunked)).status, 413);
        assert.equal((await fetchText('/cgi-bin/hello.js')).res.status, 200);
      });

      it('cuts a response whose Content-Length lies, so the next one on the connection is not split', async () => {
        const mark = server.mark();
        const res = await rawRequest(server.port, `GET /cgi-bin/liar.js HTTP/1.1\r\nHost: x\r\n\r\n${get('/cgi-bin/hello.js')}`);
        assert.equal(res.body.toString(), 'hello');
        assert.doesNotMatch(res.raw.toString(), / worldHTTP/);
        await server.waitForError(/liar\.js: printed more than its Content-Length \(5 bytes\)/, mark);
        const short = await rawRequest(server.port, get('/cgi-bin/short.js'));
        assert.equal(short.complete, false);
        await server.waitForError(/short\.js: ended short of its Content-Length \(2 of 50 bytes\)/, mark);
      });

      it('lets a script finish its work after its whole body was sent, though the client has left, and logs no error', async () => {
        const mark = server.mark();
        const socket = connect(server.port, '127.0.0.1');
        socket.write('GET /cgi-bin/after-body.js?kept HTTP/1.1\r\nHost: x\r\n\r\n');
        // Kept alive: the client reads until the body is whole (Content-Length), then closes.
        let received = '';
        for await (const chunk of socket) {
          received += chunk;
          const end = received.indexOf('\r\n\r\n');
          if (end >= 0 && received.length - end - 4 >= 5) break;
        }
        socket.destroy();
        assert.match(received, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nfirst$/);
        const marker = join(server.dir, 'after-body-kept');
        await eventually(async () => (await readFile(marker, 'utf8').catch(() => '')) === 'done', 5000, 'the work after the body done');
        await eventually(async () => (await statusOf(base)).server.running === 0, 5000, 'the request finished');
        assert.deepEqual(
          server.errorsSince(mark).filter((line) => /after-body\.js/.test(line)),
          [],
        );
      });

      it('parses a multipart form', async () => {
        const form = new FormData();
        form.set('name', 'Rob McCool');
        form.set('upload', new Blob(['#!/bin/sh\n']), 'test-cgi.sh');
        const { res, text } = await fetchText('/cgi-bin/form.js', { method: 'POST', body: form });
        assert.equal(res.status, 200);
        assert.match(text, /Rob McCool/);
        assert.match(text, /test-cgi\.sh/);
      });
    });

    describe('redirects', () => {
      it('re-dispatches a local redirect inside the server as a GET', async () => {
        const { res, text } = await fetchText('/cgi-bin/redirect.js?to=local', {
          method: 'POST',
          body: 'x=1',
          headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        });
        assert.equal(res.status, 200);
        assert.match(text, /^SCRIPT_NAME="\/cgi-bin\/printenv\.js"$/m);
        assert.match(text, /^QUERY_STRING="redirected=1"$/m);
        assert.match(text, /^REQUEST_METHOD="GET"$/m);
      });

      it("answers a local redirect to a directory with a 301 that keeps the new location's query, not the request's", async () => {
        const res = await rawRequest(server.port, get('/cgi-bin/to-dir.js?orig=1'));
        assert.equal(res.status, 301);
        assert.equal(res.headers.location, '/sub/?to=x');
      });

      it('turns an absolute Location into a 302 client redirect', async () => {
        const { res } = await fetchText('/cgi-bin/redirect.js?to=client');
        assert.equal(res.status, 302);
        assert.match(res.headers.get('location') ?? '', /^http:\/\//);
      });

      it('sends a client redirect with a document as the script wrote it', async () => {
        const res = await rawRequest(server.port, get('/cgi-bin/redirect.js?to=doc'));
        const home = 'http://127.0.0.1/';
        assert.match(res.head, /^HTTP\/1\.1 301 Moved Permanently\r\n/);
        assert.equal(res.headers.location, home);
        assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
        // §6.2.4: the document goes to the client byte for byte, for clients that do not follow.
        assert.equal(res.body.toString(), `<!doctype html>\n<title>Moved Permanently</title>\n<p>This page has moved to <a href="${home}">${home}</a>.</p>\n`);
      });
    });

    describe('NPH', () => {
      it("sends an nph- script's bytes unmodified", async () => {
        const res = await rawRequest(server.port, get('/cgi-bin/nph-clock.js?n=1'));
        assert.match(res.head, /^HTTP\/1\.1 200 OK\r\n/);
        assert.match(res.headers['content-type'] ?? '', /^multipart\/x-mixed-replace/);
        assert.equal(res.headers['x-powered-by'], undefined);
        assert.match(res.body.toString(), /--webhist-clock--/);
      });
    });

    describe('faults', () => {
      it('answers 502 for output with no header block, and logs why', async () => {
        const mark = server.mark();
        const { res } = await fetchText('/cgi-bin/noheaders.js');
        assert.equal(res.status, 502);
        await server.waitForError(/noheaders\.js.*(blank line|header)/i, mark);
      });

      it('cuts the response short when a script crashes after its headers', async () => {
        const mark = server.mark();
        const res = await rawRequest(server.port, get('/cgi-bin/crash.js'));
        assert.equal(res.status, 200);
        assert.match(res.body.toString(), /This line arrives/);
        assert.equal(res.complete, false, 'no final chunk: the client can tell the body is incomplete');
        await server.waitForError(/crash\.js.*cut short/, mark);
      });

      it('answers 404 for a missing script and never runs anything outside cgi-bin', async () => {
        assert.equal((await fetchText('/cgi-bin/no-such-script.sh')).res.status, 404);
        for (const path of ['/cgi-bin/.%2e/%2e%2e/bin/sh', '/cgi-bin/%2e%2e/%2e%2e/bin/sh', '/cgi-bin/..%2f..%2fbin/sh', '/cgi-bin/../../bin/sh']) {
          const res = await rawRequest(server.port, `POST ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 12\r\n\r\necho; id -u\n`);
          assert.ok([400, 404].includes(res.status), `${path} → ${res.status}`);
          assert.doesNotMatch(res.body.toString(), /^\d+$/m, `${path} must not run a shell`);
        }
      });

      it('answers 503 with Retry-After past --max-concurrency', async () => {
        const slow = Array.from({ length: 8 }, () => fetch(`${base}/cgi-bin/slow.js?ms=700`));
        const statuses = await Promise.all(
          slow.map(async (p) => {
            const r = await p;
            await r.arrayBuffer();
            return { status: r.status, retry: r.headers.get('retry-after') };
          }),
        );
        assert.equal(statuses.filter((s) => s.status === 200).length, 6);
        const refused = statuses.filter((s) => s.status === 503);
        assert.equal(refused.length, 2);
        for (const r of refused) assert.equal(r.retry, '1');
      });
    });

    describe('process lifetimes', { skip: !subject.runsPrograms && 'this mode runs no processes per request' }, () => {
      it('kills what a script leaves running in its process group', async () => {
        const { text } = await fetchText('/cgi-bin/orphan.sh');
        assert.equal(text, 'started\n');
        const pid = Number(await readFile(join(server.dir, 'orphan.pid'), 'utf8'));
        await eventually(() => !isAlive(pid), 5000, `background process ${pid} killed`);
      });

      it('kills the script when its client goes away', async () => {
        const mark = server.mark();
        const controller = new AbortController();
        const pending = fetch(`${base}/cgi-bin/stall.sh?gone`, { signal: controller.signal }).catch(() => undefined);
        const pidFile = join(server.dir, 'stall-gone.pid');
        let pid = 0;
        await eventually(async () => (pid = Number(await readFile(pidFile, 'utf8').catch(() => '0'))) > 0, 5000, 'script started');
        controller.abort();
        await pending;
        await eventually(() => !isAlive(pid), 5000, `abandoned script ${pid} killed`);
        await server.waitForError(/stall\.sh.*client went away/, mark);
      });

      it('logs stderr by one rule: CR dropped, a line cut at 4096 bytes', async () => {
        const mark = server.mark();
        assert.equal((await fetchText('/cgi-bin/stderr-rule.sh')).text, 'ok\n');
        await eventually(() => server.errorsSince(mark).filter((line) => line.includes('stderr-rule.sh')).length >= 3, 5000, 'three stderr lines');
        const said = server
          .errorsSince(mark)
          .filter((line) => line.includes('stderr-rule.sh'))
          .map((line) => line.slice(line.indexOf('stderr-rule.sh: ') + 16));
        assert.deepEqual(said, ['crlf line', 'x'.repeat(4096), 'x'.repeat(904)]);
      });

      it('logs stderr tagged with the script, answers 502 for malformed headers and 403 for what is no script', async () => {
        const mark = server.mark();
        assert.equal((await fetchText('/cgi-bin/stderr.sh')).text, 'ok\n');
        await server.waitForError(/stderr\.sh.*something went sideways/, mark);
        assert.equal((await fetchText('/cgi-bin/garbage.sh')).res.status, 502);
        await server.waitForError(/garbage\.sh.*this is not a header/, mark);
        assert.equal((await fetchText('/cgi-bin/source.xyz')).res.status, 403);
        await server.waitForError(/source\.xyz is not a script: not executable \(and no interpreter is known/, mark);
      });

      it('survives a large body sent to a program that never reads it', async () => {
        const res = await fetch(`${base}/cgi-bin/deaf.sh`, { method: 'POST', body: randomBytes(2 * 1024 * 1024) });
        assert.equal(res.status, 200);
        assert.equal(await res.text(), 'not listening\n');
        assert.equal((await fetchText('/cgi-bin/hello.js')).res.status, 200);
      });

      it("follows a local redirect at the end of the script's output, and stops what it leaves running", async () => {
        const mark = server.mark();
        const { res, text } = await fetchText('/cgi-bin/linger.sh');
        assert.equal(res.status, 200);
        assert.equal(text, 'Hello, world from a JavaScript handler\n');
        const pid = Number(await readFile(join(server.dir, 'linger.pid'), 'utf8'));
        await eventually(() => !isAlive(pid), 5000, `lingering script ${pid} stopped`);
        assert.ok(!server.errorsSince(mark).some((line) => /linger\.sh.*timed out/.test(line)), 'not by the timeout');
      });

      it('passes §4.4 search words as arguments, but never one that starts with "-" (CVE-2012-1823)', async () => {
        assert.equal((await fetchText('/cgi-bin/args.sh?hello+world')).text, 'hello|world|');
        assert.equal((await fetchText('/cgi-bin/args.sh?-s')).text, '|');
        assert.equal((await fetchText('/cgi-bin/args.sh?a=1')).text, '|');
      });
    });

    // The time limit, on a server of its own whose limit is short: what these tests wait for is
    // the limit itself, and the main server's must leave room for a busy machine.
    describe('the time limit', () => {
      let server: TestServer;
      let base: string;
      before(async () => {
        server = await startTestServer(subject.create, testScripts, { timeoutMs: 1500 });
        base = server.url.replace(/\/$/, '');
      });
      after(() => server.stop());
      const fetchText = async (path: string) => {
        const res = await fetch(`${base}${path}`);
        return { res, text: await res.text() };
      };

      it('answers 504 past --timeout, logs it, and ends the script', async () => {
        const mark = server.mark();
        const { res } = await fetchText('/cgi-bin/hang.js');
        assert.equal(res.status, 504);
        await server.waitForError(/hang\.js.*timed out/, mark);
      });

      it('answers 408 to an upload that has not arrived by --timeout, and closes the connection', async () => {
        const mark = server.mark();
        // A chunked body that stops after its first chunk: the script never starts, the slot is given back.
        const res = await rawRequest(server.port, 'POST /cgi-bin/echo.js HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n');
        assert.equal(res.status, 408, res.head);
        assert.equal(res.headers.connection, 'close');
        await server.waitForError(/echo\.js.*the request body did not all arrive within 1\.5s \(--timeout\)/, mark);
      });

      it('kills the script when its time runs out', { skip: !subject.runsPrograms && 'this mode runs no processes per request' }, async () => {
        const { res } = await fetchText('/cgi-bin/stall.sh?timeout');
        assert.equal(res.status, 504);
        const pid = Number(await readFile(join(server.dir, 'stall-timeout.pid'), 'utf8'));
        await eventually(() => !isAlive(pid), 5000, `timed-out script ${pid} killed`);
      });
    });

    // Streams (issue #11): --timeout bounds the time until the head, --idle-timeout each silence
    // after it. On a server of its own whose limits are short, for the same reason as above; the
    // idle limit is ten ticks long, so that a busy machine's stalls are not taken for silence.
    // One after the other: in FastCGI mode a stream cut at --idle-timeout has its worker killed,
    // and with it any other request that worker was serving (issue #15, defect 13).
    describe('streams', () => {
      let server: TestServer;
      before(async () => {
        server = await startTestServer(subject.create, streamScripts, { timeoutMs: 2000, idleTimeoutMs: 3000 });
      });
      after(() => server.stop());

      it('lets a stream that keeps writing outlive --timeout', async () => {
        // 12 ticks 300 ms apart: 3.6 s, well past the 2 s --timeout.
        const res = await rawRequest(server.port, get('/cgi-bin/ticker.js?n=12'));
        assert.equal(res.status, 200, res.head);
        assert.equal(res.complete, true, 'the stream ended with its last chunk');
        assert.equal(res.body.toString().match(/^data: tick \d+$/gm)?.length, 12, res.body.toString());
      });

      it("lets an nph- script's stream outlive --timeout", async () => {
        // A part a second: 3 s, past the 2 s --timeout.
        const res = await rawRequest(server.port, get('/cgi-bin/nph-clock.js?n=4'));
        assert.equal(res.status, 200, res.head);
        assert.match(res.body.toString(), /\(4 of 4\)[\s\S]*--webhist-clock--\r\n$/);
      });

      it('cuts a stream that stays silent past --idle-timeout, and logs it', async () => {
        const mark = server.mark();
        const res = await rawRequest(server.port, get('/cgi-bin/goes-quiet.js'));
        assert.equal(res.status, 200, res.head);
        assert.match(res.body.toString(), /^data: hello$/m, 'what it wrote before going quiet arrived');
        assert.equal(res.complete, false, 'no final chunk: the client can tell the stream was cut');
        // Logged once the script has ended (the gateway's step 8).
        await server.waitForError(/goes-quiet\.js: wrote nothing for 3s \(--idle-timeout\): /, mark);
      });

      it('ends a stream at once when its client leaves', async () => {
        const mark = server.mark();
        const socket = connect(server.port, '127.0.0.1');
        socket.on('error', () => {});
        socket.write(get('/cgi-bin/ticker.js?n=1000'));
        let received = '';
        for await (const chunk of socket) {
          received += chunk;
          if (/data: tick 2\n/.test(received)) break;
        }
        socket.destroy();
        // Logged once the script has ended (the gateway's step 8).
        await server.waitForError(/ticker\.js: the client went away: /, mark);
      });
    });

    describe('state', () => {
      it(subject.statePersists ? 'keeps module-level state per process' : 'starts every request with fresh module state', async () => {
        const seen = new Map<string, number[]>();
        for (let i = 0; i < 6; i++) {
          const { text } = await fetchText('/cgi-bin/counter.js');
          const [, count, pid] = /count=(\d+) pid=(\d+)/.exec(text) ?? [];
          seen.set(pid!, [...(seen.get(pid!) ?? []), Number(count)]);
        }
        for (const counts of seen.values()) {
          if (subject.statePersists)
            assert.deepEqual(
              counts,
              counts.map((_, i) => counts[0]! + i),
            );
          else
            assert.deepEqual(
              counts,
              counts.map(() => 1),
            );
        }
        if (subject.statePersists) {
          // Six requests, at most two processes (two workers, or the one server): some process
          // served several, and its count went up by one each time.
          assert.ok(
            [...seen.values()].some((counts) => counts.length > 1),
            `a process served more than one request: ${JSON.stringify([...seen])}`,
          );
        } else {
          // A process per request: six pids, each counting once.
          assert.equal(seen.size, 6, `six processes: ${JSON.stringify([...seen])}`);
        }
      });
    });

    describe('static files', () => {
      it('serves the docroot next to cgi-bin', async () => {
        const { res, text } = await fetchText('/');
        assert.equal(res.status, 200);
        assert.match(res.headers.get('content-type') ?? '', /text\/html/);
        assert.match(text, /cgi-bin/);
      });
    });

    describe('the status page', () => {
      it('reports the mode as JSON', async () => {
        const { res, text } = await fetchText('/webhist/status?json');
        assert.equal(res.status, 200);
        assert.equal(JSON.parse(text).mode, subject.name.split(' ')[0]);
      });
    });
  });
}

function digest(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}
