/**
 * Lesson 3's checks: the learner's guestbook (any language) over HTTP in CGI mode. The
 * messages carry a seeded word, so entries left by an earlier run cannot pass for new ones.
 */
import { basename } from 'node:path';
import type { CheckContext, Response, Suite } from '../../../src/learn/checks.ts';

const form = { 'Content-Type': 'application/x-www-form-urlencoded' };
const url = (t: CheckContext) => `/cgi-bin/${basename(t.files['cgi-bin/guestbook.*']!)}`;
const words = ['teletype', 'modem', 'gopher', 'usenet', 'finger', 'telnet', 'archie', 'veronica'];
const word = (t: CheckContext) => `${words[Math.floor(t.random() * words.length)]}-${Math.floor(t.random() * 10_000)}`;

async function sign(t: CheckContext, fields: Record<string, string>): Promise<Response> {
  return t.http({ method: 'POST', path: url(t), headers: form, body: new URLSearchParams(fields).toString() });
}

function expectRedirect(t: CheckContext, response: Response) {
  t.status(response, 303, 'After a POST, answer "Status: 303 See Other" with a Location, so the browser fetches the page with GET (Post/Redirect/Get)');
  const location = t.header(response, 'Location', /\S/, "Say where to go next: Location: the guestbook's own path (SCRIPT_NAME)");
  t.expect(new URL(location, t.url).pathname === url(t), `Location is ${JSON.stringify(location)}; send the browser back to the guestbook, ${url(t)}`);
}

async function page(t: CheckContext): Promise<Response> {
  const response = await t.http({ path: url(t) });
  t.status(response, 200);
  t.header(response, 'Content-Type', /^text\/html/, 'The guestbook is a page: Content-Type: text/html');
  return response;
}

export default {
  files: [{ path: 'cgi-bin/guestbook.*', executable: true }],
  checks: [
    {
      task: 1,
      title: 'GET answers 200 text/html',
      async run(t) {
        await page(t);
      },
    },
    {
      task: 1,
      title: 'POST name & message answers 303 See Other with Location, and the next GET lists the entry',
      async run(t) {
        const name = `Ada ${word(t)}`;
        const message = `Hello from ${word(t)}`;
        expectRedirect(t, await sign(t, { name, message }));
        const listed = await page(t);
        t.contains(listed.text, name, 'the page', 'Keep each entry (append it to a file beside the script) and list every entry on GET');
        t.contains(listed.text, message, 'the page');
      },
    },
    {
      task: 2,
      title: 'a message with <script>, & and " comes back escaped',
      async run(t) {
        const tag = word(t);
        const message = `<script>alert("${tag}")</script> & more`;
        expectRedirect(t, await sign(t, { name: 'Mallory', message }));
        const listed = await page(t);
        t.expect(
          !listed.text.includes(`<script>alert("${tag}")`),
          `the page contains <script>alert("${tag}") as it was sent: any visitor's browser would run it. Escape & < > " as &amp; &lt; &gt; &quot; before writing an entry into the page`,
        );
        t.contains(
          listed.text,
          `&lt;script&gt;alert(&quot;${tag}&quot;)&lt;/script&gt; &amp; more`,
          'the page',
          'Escape all four: & as &amp;, < as &lt;, > as &gt;, " as &quot;',
        );
      },
    },
    {
      task: 2,
      title: 'a CR LF inside name does not become a header line',
      async run(t) {
        const response = await sign(t, { name: `Eve\r\nSet-Cookie: session=${word(t)}`, message: 'hi' });
        t.noHeader(
          response,
          'Set-Cookie',
          "A name written into a header line (Location, say) carried a CR LF and started a header of its own: keep visitors' input out of your headers",
        );
        t.expect([303, 400].includes(response.status), `expected 303 (or 400 for a name you refuse), got ${response.status} ${response.reason}`);
      },
    },
    {
      task: 3,
      title: 'PUT and DELETE answer 405 with Allow: GET, POST',
      async run(t) {
        for (const method of ['PUT', 'DELETE']) {
          const response = await t.http({ method, path: url(t) });
          t.status(response, 405, `${method} is neither GET nor POST: answer "Status: 405 Method Not Allowed"`);
          t.header(response, 'Allow', /^GET,\s*POST$/, 'A 405 says which methods would work: Allow: GET, POST');
        }
      },
    },
  ],
} satisfies Suite;
