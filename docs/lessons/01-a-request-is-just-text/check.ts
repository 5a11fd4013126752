/**
 * Lesson 1's checks: the learner's static pages over HTTP, and request.txt sent verbatim on a
 * raw TCP connection. Only type imports: the checker hands everything over as `t`.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CheckContext, Suite } from '../../../src/learn/checks.ts';

const onDisk = (t: CheckContext, path: string) => readFile(join(t.dir, path));

/** A page served from the learner's file, byte for byte, with the link it must have. */
async function expectPage(t: CheckContext, path: string, file: string, link: RegExp, missingLink: string) {
  const response = await t.http({ path });
  t.status(response, 200, `the server answers ${path} with ${file}: is the file there?`);
  t.header(response, 'Content-Type', /^text\/html/);
  t.expect(response.body.equals(await onDisk(t, file)), `the body is not the bytes of ${file}`);
  t.expect(link.test(response.text), missingLink);
}

export default {
  files: [{ path: 'site/index.html' }, { path: 'site/about.html' }, { path: 'request.txt' }],
  checks: [
    {
      task: 1,
      title: 'GET / answers 200 text/html with site/index.html, which links to /about.html',
      run: (t) =>
        expectPage(t, '/', 'site/index.html', /href\s*=\s*["']?\/?about\.html/i, 'site/index.html has no link to /about.html: add <a href="/about.html">…</a>'),
    },
    {
      task: 1,
      title: 'GET /about.html answers 200 text/html with site/about.html, which links back to /',
      run: (t) =>
        expectPage(
          t,
          '/about.html',
          'site/about.html',
          /href\s*=\s*["']\/["']/i,
          'site/about.html has no link back to the home page: add <a href="/">Home</a>',
        ),
    },
    {
      task: 2,
      title: 'request.txt, sent byte for byte over TCP, gets 200 and the bytes of about.html',
      async run(t) {
        const request = await onDisk(t, 'request.txt');
        const text = request.toString('latin1');
        const firstLine = text.split(/\r?\n/)[0] ?? '';
        t.expect(
          /^GET \/about\.html HTTP\/1\.1$/.test(firstLine),
          `the request line is ${JSON.stringify(firstLine)}; it should be "GET /about.html HTTP/1.1" (method, path, version, one space apart; RFC 9112 §3)`,
        );
        t.expect(
          !/(^|[^\r])\n/.test(text),
          'a line in request.txt ends in LF (\\n) alone; HTTP lines end in CR LF (\\r\\n, RFC 9112 §2.2): write the file with printf and \\r\\n',
        );
        t.expect(/\r\nhost:[ \t]*\S/i.test(text), 'request.txt has no Host field; HTTP/1.1 requires one (RFC 9112 §3.2): add "Host: localhost"');
        t.expect(
          text.endsWith('\r\n\r\n'),
          'request.txt does not end with an empty line (\\r\\n\\r\\n), so the server would wait for more header fields forever',
        );
        const { responses } = await t.raw(request, { methods: ['GET'], label: 'the bytes of request.txt, as they are' });
        t.expect(responses[0], 'no complete response came back');
        t.status(responses[0]!, 200);
        t.expect(responses[0]!.body.equals(await onDisk(t, 'site/about.html')), 'the body is not the bytes of site/about.html');
      },
    },
    {
      task: 3,
      title: 'GET /nope answers 404',
      async run(t) {
        t.status(await t.http({ path: '/nope' }), 404);
      },
    },
    {
      task: 3,
      title: 'HEAD / answers the same header fields as GET and no body',
      async run(t) {
        const { responses, exchange } = await t.raw(Buffer.from(`HEAD / HTTP/1.1\r\nHost: 127.0.0.1:${t.port}\r\nConnection: close\r\n\r\n`), {
          methods: ['HEAD'],
        });
        t.expect(responses[0], 'no response to HEAD');
        t.status(responses[0]!, 200);
        t.header(responses[0]!, 'Content-Length', String((await onDisk(t, 'site/index.html')).length), 'HEAD says how long the GET body would be');
        const headEnd = exchange.received.indexOf('\r\n\r\n') + 4;
        t.expect(
          exchange.received.length === headEnd,
          `${exchange.received.length - headEnd} bytes came after the head; a response to HEAD has no body (RFC 9110 §9.3.2)`,
        );
      },
    },
    {
      task: 3,
      title: 'two requests written on one connection get two responses, in order',
      async run(t) {
        const host = `Host: 127.0.0.1:${t.port}\r\n`;
        const { responses } = await t.raw(Buffer.from(`GET / HTTP/1.1\r\n${host}\r\nGET /about.html HTTP/1.1\r\n${host}Connection: close\r\n\r\n`), {
          methods: ['GET', 'GET'],
          label: 'two requests in one write (HTTP/1.1 keeps the connection open between them)',
        });
        t.expect(responses.length === 2, `${responses.length} response(s) came back; expected 2`);
        t.expect(responses[0]!.body.equals(await onDisk(t, 'site/index.html')), 'the first response is not index.html');
        t.expect(responses[1]!.body.equals(await onDisk(t, 'site/about.html')), 'the second response is not about.html');
      },
    },
  ],
} satisfies Suite;
