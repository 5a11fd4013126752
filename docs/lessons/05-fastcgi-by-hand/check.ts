/**
 * Lesson 5's checks: the learner's FastCGI responder, started with PORT, behind
 * `webhist serve --mode fastcgi --fastcgi-connect tcp:127.0.0.1:PORT`; then spoken to directly,
 * twenty requests on one kept connection; then by libfcgi's cgi-fcgi where it is installed.
 */
import { join } from 'node:path';
import type { CheckContext, Suite } from '../../../src/learn/checks.ts';

const app = '/cgi-bin/app';
const ports = new Map<string, number>();

/** The response body's three lines and, after the empty line, the echoed request body. */
function parse(_t: CheckContext, text: string) {
  const split = text.indexOf('\n\n');
  const lines = Object.fromEntries((split < 0 ? text : text.slice(0, split)).split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  return { lines, echoed: split < 0 ? undefined : text.slice(split + 2), text };
}

function expectLines(t: CheckContext, text: string, method: string, query: string, body: string, advice = '') {
  const { lines, echoed } = parse(t, text);
  const shown = JSON.stringify(text.length > 160 ? `${text.slice(0, 160)}…` : text);
  for (const [name, want] of [
    ['REQUEST_METHOD', method],
    ['QUERY_STRING', query],
    ['BODY_LENGTH', String(Buffer.byteLength(body))],
  ] as const) {
    t.expect(lines[name] === want, `the body should have the line ${name}=${want}, but it is ${shown}${advice}`);
  }
  t.expect(
    echoed === body,
    `after the three lines and an empty line, the body should be the request body (${Buffer.byteLength(body)} bytes), but ${echoed === undefined ? 'there is no empty line' : `${Buffer.byteLength(echoed)} bytes came back`}${advice}`,
  );
}

/** CGI output's body: after the first empty line, whether the header lines end in CR LF or LF (RFC 3875 §6.3). */
function bodyOf(output: Buffer): string {
  const text = output.toString('utf8');
  const end = /\r?\n\r?\n/.exec(text);
  return end ? text.slice(end.index + end[0].length) : text;
}

/** Letters picked by the seed: a body no responder can know in advance. */
function letters(t: CheckContext, n: number): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  let text = '';
  for (let i = 0; i < n; i++) text += alphabet[Math.floor(t.random() * alphabet.length)];
  return text;
}

export default {
  files: [{ path: 'fcgi/responder.mjs' }, { path: 'cgi-bin/app', executable: true }],
  async beforeServe(t) {
    const port = await t.freePort();
    const responder = t.start(process.execPath, [join(t.dir, 'fcgi', 'responder.mjs')], { cwd: t.dir, env: { PORT: String(port) } });
    await t.waitForPort(port, responder).catch((error: Error) => {
      throw new Error(`your responder (node fcgi/responder.mjs, PORT=${port}): ${error.message}`);
    });
    ports.set(t.dir, port);
    t.note(`your responder listens on 127.0.0.1:${port}; the server sends it every /cgi-bin/ request`);
    return ['--fastcgi-connect', `tcp:127.0.0.1:${port}`];
  },
  checks: [
    {
      task: 1,
      title: 'GET /cgi-bin/app?x=1 answers 200 text/plain: REQUEST_METHOD=GET, QUERY_STRING=x=1, BODY_LENGTH=0',
      async run(t) {
        const response = await t.http({ path: `${app}?x=1` });
        t.status(
          response,
          200,
          'Answer with STDOUT records holding "Content-Type: text/plain", an empty line and the body, then an empty STDOUT record and END_REQUEST',
        );
        t.header(response, 'Content-Type', /^text\/plain/);
        expectLines(t, response.text, 'GET', 'x=1', '');
      },
    },
    {
      task: 1,
      title: 'a header field over 127 bytes (a 4-byte name-value length) arrives intact',
      async run(t) {
        const long = letters(t, 300);
        const response = await t.http({ path: `${app}?long=1`, headers: { 'X-Long': long } });
        const advice =
          '. HTTP_X_LONG is 300 bytes long, so its length takes 4 bytes (§3.4): when the first length byte has its top bit set, the length is those 4 bytes with the top bit cleared';
        t.status(response, 200, advice.slice(2));
        expectLines(t, response.text, 'GET', 'long=1', '', advice);
        // The same, straight to the responder, with the long pair first: misread, it garbles every pair after it.
        const { answers, problem } = await t.fastcgi(ports.get(t.dir)!, [{ params: { HTTP_X_LONG: long, REQUEST_METHOD: 'GET', QUERY_STRING: 'long=2' } }]);
        if (problem) t.fail(`${problem}${advice}`);
        expectLines(t, bodyOf(answers[0]!.stdout), 'GET', 'long=2', '', advice);
      },
    },
    {
      task: 2,
      title: 'a 70 KB POST arrives whole (STDIN in several records) and comes back',
      async run(t) {
        const body = letters(t, 70 * 1024);
        const response = await t.http({ method: 'POST', path: `${app}?post=70k`, headers: { 'Content-Type': 'text/plain' }, body });
        t.status(response, 200);
        expectLines(
          t,
          response.text,
          'POST',
          'post=70k',
          body,
          '. STDIN arrives in records of at most 65535 bytes: keep every one until the empty STDIN record',
        );
      },
    },
    {
      task: 2,
      title: 'a 100 KB answer is split across STDOUT records of at most 65535 bytes',
      async run(t) {
        const body = letters(t, 100 * 1024);
        const { answers, problem } = await t.fastcgi(ports.get(t.dir)!, [
          { params: { REQUEST_METHOD: 'POST', QUERY_STRING: 'post=100k', CONTENT_LENGTH: String(body.length) }, stdin: Buffer.from(body) },
        ]);
        if (problem) t.fail(problem);
        const [answer] = answers;
        t.expect(
          answer!.stdoutRecords >= 3,
          `the answer came in ${answer!.stdoutRecords} STDOUT record(s); 100 KB needs at least two (a record holds at most 65535 bytes) and then the empty one that ends the stream`,
        );
        expectLines(t, bodyOf(answer!.stdout), 'POST', 'post=100k', body);
      },
    },
    {
      task: 3,
      title: '20 requests, one after another, on one kept connection (FCGI_KEEP_CONN)',
      async run(t) {
        const requests = Array.from({ length: 20 }, (_, i) => ({ params: { REQUEST_METHOD: 'GET', QUERY_STRING: `n=${i + 1}` } }));
        const { answers, problem } = await t.fastcgi(ports.get(t.dir)!, requests);
        if (problem) t.fail(problem);
        for (const [i, answer] of answers.entries()) {
          t.expect(answer.protocolStatus === 0, `request ${i + 1} ended with protocolStatus ${answer.protocolStatus}; REQUEST_COMPLETE is 0`);
          expectLines(t, bodyOf(answer.stdout), 'GET', `n=${i + 1}`, '');
        }
      },
    },
    {
      task: 3,
      title: "libfcgi's cgi-fcgi, a client nobody here wrote, gets the same answer",
      async run(t) {
        const body = 'from libfcgi';
        const env = {
          REQUEST_METHOD: 'POST',
          QUERY_STRING: 'via=cgi-fcgi',
          CONTENT_LENGTH: String(body.length),
          SCRIPT_NAME: app,
          SERVER_PROTOCOL: 'HTTP/1.1',
        };
        const ran = await t.exec('cgi-fcgi', ['-bind', '-connect', `127.0.0.1:${ports.get(t.dir)}`], { env, input: Buffer.from(body) });
        if (ran.missing) t.skip("cgi-fcgi is not installed (Debian's libfcgi-bin): apt-get install libfcgi-bin");
        t.expect(
          ran.exitCode === 0,
          `cgi-fcgi exited ${ran.exitCode}: ${ran.stderr.trim() || 'it got no complete answer (STDOUT records, an empty STDOUT, END_REQUEST)'}`,
        );
        const out = ran.stdout.toString('utf8');
        t.expect(/^content-type:\s*text\/plain/im.test(out), `cgi-fcgi printed ${JSON.stringify(out.slice(0, 80))}: no Content-Type line`);
        expectLines(t, bodyOf(ran.stdout), 'POST', 'via=cgi-fcgi', body);
      },
    },
  ],
} satisfies Suite;
