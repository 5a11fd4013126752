/**
 * Lesson 8's checks: the learner's server.mjs (node:http, started with PORT) beside webhist in
 * CGI mode running the reference scripts of lessons 2 and 3 (greet.sh, guestbook.py). The same
 * requests go to both; status, headers and body are compared side by side.
 */
import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import type { CheckContext, Response, Started, Suite } from '../../../src/learn/checks.ts';

const learner = new Map<string, { port: number; process: Started }>();
const form = { 'Content-Type': 'application/x-www-form-urlencoded' };
const words = ['v8', 'libuv', 'npm', 'express', 'socketio', 'connect', 'eventloop', 'callback'];
const word = (t: CheckContext) => `${words[Math.floor(t.random() * words.length)]}-${Math.floor(t.random() * 10_000)}`;

function startLearner(t: Pick<CheckContext, 'start' | 'dir'>, port: number): Started {
  return t.start(process.execPath, [join(t.dir, 'server.mjs')], { cwd: t.dir, env: { PORT: String(port) } });
}

const mediaType = (r: Response) => (r.headers['content-type']?.[0] ?? '(none)').split(';')[0]!.trim().toLowerCase();

/** The same request to webhist (the CGI script at `cgiPath`) and to server.mjs (at `ownPath`). */
async function both(
  t: CheckContext,
  cgiPath: string,
  ownPath: string,
  request: { method?: string; query?: string; headers?: Record<string, string>; body?: string },
) {
  const query = request.query ?? '';
  const reference = await t.http({ ...request, path: cgiPath + query });
  const { port, process: server } = learner.get(t.dir)!;
  let yours: Response;
  try {
    yours = await t.http({ ...request, path: ownPath + query }, { port });
  } catch (error) {
    // A process that died answering exits a moment after its socket closed: give it that moment.
    for (let i = 0; i < 10 && !server.exited(); i++) await new Promise((r) => setTimeout(r, 100));
    const said = server
      .stderrLines()
      .filter((line) => /Error/.test(line))
      .slice(-1)
      .join('');
    const down = server.exited()
      ? ' — your server is no longer running: an error thrown while answering ended the whole process (under CGI it would have cost this one request a 502)'
      : '';
    return t.fail(`server.mjs: ${(error as Error).message}${down}${said ? `; it printed: ${said}` : ''}`);
  }
  return { reference, yours };
}

/** Fails with a side-by-side line for every field that differs. */
function sideBySide(t: CheckContext, what: string, rows: [string, unknown, unknown][], advice: string) {
  const differ = rows.filter(([, a, b]) => a !== b);
  if (!differ.length) return;
  const show = (value: unknown) => (value === undefined ? '(none)' : JSON.stringify(value));
  t.fail(`${what}: ${differ.map(([field, a, b]) => `${field}: webhist ${show(a)}, yours ${show(b)}`).join('; ')}. ${advice}`);
}

const greetCases = ['Ada%20Lovelace', 'Grace+Hopper', '%C3%89douard', 'Tim&lang=en'];

export default {
  files: [{ path: 'server.mjs' }],
  async beforeServe(t) {
    const port = await t.freePort();
    const server = startLearner(t, port);
    await t.waitForPort(port, server).catch((error: Error) => {
      throw new Error(`your server (node server.mjs, PORT=${port}): ${error.message}`);
    });
    learner.set(t.dir, { port, process: server });
    // webhist runs the reference CGI scripts of lessons 2 and 3, from a folder of their own.
    const bin = await t.tempDir();
    await cp(t.lessonFile(2, 'solution/cgi-bin/greet.sh'), join(bin, 'greet.sh'));
    await cp(t.lessonFile(3, 'solution/cgi-bin/guestbook.py'), join(bin, 'guestbook.py'));
    t.note(`your server.mjs listens on 127.0.0.1:${port}; webhist runs lesson 2's greet.sh and lesson 3's guestbook.py`);
    return ['--cgi-bin', bin];
  },
  checks: [
    {
      task: 1,
      title: 'GET /greet?name=… answers as greet.sh does: status, Content-Type, body',
      async run(t) {
        for (const query of greetCases) {
          const { reference, yours } = await both(t, '/cgi-bin/greet.sh', '/greet', { query: `?name=${query}` });
          sideBySide(
            t,
            `?name=${query}`,
            [
              ['status', reference.status, yours.status],
              ['Content-Type', mediaType(reference), mediaType(yours)],
              ['body', reference.text, yours.text],
            ],
            "Read the name with new URL(req.url, 'http://localhost').searchParams.get('name') (it decodes + and %XX), and end the body with a newline",
          );
        }
      },
    },
    {
      task: 1,
      title: 'no name: 400, as greet.sh',
      async run(t) {
        for (const query of ['', '?name=']) {
          const { reference, yours } = await both(t, '/cgi-bin/greet.sh', '/greet', { query });
          sideBySide(t, `GET /greet${query}`, [['status', reference.status, yours.status]], 'With no name there is nobody to greet: res.writeHead(400, …)');
        }
      },
    },
    {
      task: 2,
      title: 'POST /guestbook answers 303 to its own page; the next GET lists the entry escaped, as guestbook.py does',
      async run(t) {
        const name = `Ada ${word(t)}`;
        const message = `<script>alert("${word(t)}")</script> & more`;
        const body = new URLSearchParams({ name, message }).toString();
        const posted = await both(t, '/cgi-bin/guestbook.py', '/guestbook', { method: 'POST', headers: form, body });
        sideBySide(
          t,
          'POST /guestbook',
          [['status', posted.reference.status, posted.yours.status]],
          'After a POST answer 303 See Other (Post/Redirect/Get), once the entry is kept',
        );
        const location = t.header(posted.yours, 'Location', /\S/, 'Say where to go next: Location: /guestbook');
        t.expect(
          new URL(location, t.url).pathname === '/guestbook',
          `Location is ${JSON.stringify(location)}; send the browser back to your own page, /guestbook (guestbook.py sends it to its own, ${posted.reference.headers.location?.[0]})`,
        );
        const page = await both(t, '/cgi-bin/guestbook.py', '/guestbook', {});
        sideBySide(
          t,
          'GET /guestbook',
          [
            ['status', page.reference.status, page.yours.status],
            ['Content-Type', mediaType(page.reference), mediaType(page.yours)],
          ],
          "The guestbook is a page: res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' })",
        );
        const escaped = (s: string) => s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');
        for (const text of [name, message]) {
          t.contains(page.reference.text, escaped(text), "webhist's guestbook.py page");
          t.expect(
            !page.yours.text.includes(message),
            `your page contains ${JSON.stringify(message)} as it was sent: a visitor's browser would run it. Escape & < > " as &amp; &lt; &gt; &quot;, as guestbook.py's html.escape does`,
          );
          t.contains(page.yours.text, escaped(text), 'your page', 'List every entry kept so far, each escaped as guestbook.py escapes it');
        }
      },
    },
    {
      task: 2,
      title: 'PUT /guestbook: 405 with Allow, and a CR LF in a name never becomes a header, as with guestbook.py',
      async run(t) {
        const put = await both(t, '/cgi-bin/guestbook.py', '/guestbook', { method: 'PUT' });
        sideBySide(
          t,
          'PUT /guestbook',
          [
            ['status', put.reference.status, put.yours.status],
            ['Allow', put.reference.headers.allow?.[0], put.yours.headers.allow?.[0]],
          ],
          "Any method but GET and POST: res.writeHead(405, { Allow: 'GET, POST' })",
        );
        const body = new URLSearchParams({ name: `Eve\r\nSet-Cookie: session=${word(t)}`, message: 'hi' }).toString();
        const posted = await both(t, '/cgi-bin/guestbook.py', '/guestbook', { method: 'POST', headers: form, body });
        t.noHeader(posted.yours, 'Set-Cookie', "A name written into a header carried a CR LF: keep visitors' input out of your headers");
        sideBySide(
          t,
          'POST with a CR LF in the name',
          [['status', posted.reference.status, posted.yours.status]],
          'Keep the entry and answer 303 as for any other name',
        );
      },
    },
    {
      task: 3,
      title: 'the entries outlive the process: server.mjs stopped and started again still lists them',
      async run(t) {
        const name = `Grace ${word(t)}`;
        const { port, process: before } = learner.get(t.dir)!;
        const posted = await t.http(
          { method: 'POST', path: '/guestbook', headers: form, body: new URLSearchParams({ name, message: 'before the restart' }).toString() },
          { port },
        );
        t.status(posted, 303, 'POST /guestbook keeps the entry and answers 303 See Other (task 2)');
        await before.stop();
        const after = startLearner(t, port);
        await t.waitForPort(port, after).catch((error: Error) => t.fail(`server.mjs did not start again: ${error.message}`));
        learner.set(t.dir, { port, process: after });
        const page = await t.http({ path: '/guestbook' }, { port });
        t.status(page, 200);
        t.contains(
          page.text,
          name,
          'the page after a restart',
          'The process is the server now, and processes end (a crash, a deploy): keep the entries in a file beside server.mjs, not in an array',
        );
      },
    },
  ],
} satisfies Suite;
