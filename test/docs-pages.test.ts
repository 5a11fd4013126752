/**
 * The docs as a browser and as curl get them, over HTTP: a `.md` is a rendered page for a
 * browser (Accept: text/html) and the markdown for everyone else or with ?raw; the lesson list
 * is generated from whatever lessons the docroot holds (a fixture with one good, one broken).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createCgiMode } from '../modes/cgi/index.ts';
import { acceptsHtml } from '../src/server/docs-pages.ts';
import { renderMarkdownPage } from '../src/docs/markdown-page.ts';
import { packageRoot } from '../src/package-root.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const fixtureDocroot = join(packageRoot, 'test/fixtures/docroot');
const browser = { Accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' };

describe('docs served to a browser and to curl', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer(() => createCgiMode(), {}, { docroot: fixtureDocroot });
  });
  after(() => server.stop());

  it('renders a lesson README for a browser: one page, title, headings with anchors, no raw HTML', async () => {
    const res = await fetch(`${server.url}lessons/01-sample/README.md`, { headers: browser });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(res.headers.get('vary'), 'Accept');
    const html = await res.text();
    assert.match(html, /^<!doctype html>/);
    assert.match(html, /<title>A sample lesson · webhist<\/title>/);
    assert.match(html, /<h1 id="a-sample-lesson">A sample lesson<\/h1>/);
    assert.match(html, /<h2 id="try-it">Try it<\/h2>/);
    assert.match(html, /<pre><code class="language-console">\$ curl -s http:\/\/127.0.0.1:8080\/cgi-bin\/hello.sh/);
    assert.match(html, /<th>it prints<\/th>/);
    assert.match(html, /&lt;script&gt;alert/, 'raw HTML in markdown is shown as text');
    assert.doesNotMatch(html, /<script>/);
    assert.match(html, /<a href="\.\.\/\.\.\/guide\.md#a-guide">the guide<\/a>/, 'relative links kept: the target renders too');
    assert.match(html, /<a href="\/">/, 'a link home');
    assert.match(html, /<a href="README\.md\?raw">markdown source<\/a>/);
    assert.doesNotMatch(html, /https?:\/\/(?!127\.0\.0\.1)/, 'nothing from the network');
  });

  it('the relative link from the lesson reaches the guide, rendered', async () => {
    const res = await fetch(new URL('../../guide.md', `${server.url}lessons/01-sample/README.md`), { headers: browser });
    assert.equal(res.status, 200);
    assert.match(await res.text(), /<h1 id="a-guide">A guide<\/h1>[\s\S]*<h2 id="a-guide-1">/);
  });

  it('gives the markdown itself to curl (Accept: */*) and to ?raw', async () => {
    for (const [url, headers] of [
      ['guide.md', { Accept: '*/*' }],
      ['guide.md?raw', browser],
      ['guide.md', { Accept: 'text/html;q=0, text/markdown' }],
    ] as const) {
      const res = await fetch(`${server.url}${url}`, { headers });
      assert.equal(res.status, 200, url);
      assert.equal(res.headers.get('content-type'), 'text/markdown; charset=utf-8', `${url} ${headers.Accept}`);
      assert.equal(res.headers.get('vary'), 'Accept');
      assert.match(await res.text(), /^# A guide\n/);
    }
  });

  it('HEAD gets the headers of the page and no body; a missing .md is 404 either way', async () => {
    const head = await fetch(`${server.url}guide.md`, { method: 'HEAD', headers: browser });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.ok(Number(head.headers.get('content-length')) > 100);
    assert.equal(await head.text(), '');
    assert.equal((await fetch(`${server.url}nope.md`, { headers: browser })).status, 404);
    assert.equal((await fetch(`${server.url}nope.md`)).status, 404);
    assert.equal((await fetch(`${server.url}lessons/%2e%2e/%2e%2e/README.md`, { headers: browser })).status, 404);
  });

  it('lists the lessons the docroot holds, and names the one it cannot read', async () => {
    const res = await fetch(`${server.url}lessons/index.json`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/json');
    const list = await res.json();
    assert.deepEqual(list.lessons, [{ number: 1, title: 'A sample lesson', era: '1991', modes: ['cgi'], tasks: 1, href: '/lessons/01-sample/README.md' }]);
    assert.equal(list.problems.length, 1);
    assert.match(list.problems[0], /^lessons\/02-broken\/lesson\.json: .*JSON/);
  });

  it('lists no lessons, without an error, where the docroot has none', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'webhist-docroot-'));
    const bare = await startTestServer(() => createCgiMode(), {}, { docroot: empty });
    try {
      assert.deepEqual(await (await fetch(`${bare.url}lessons/index.json`)).json(), { lessons: [], problems: [] });
    } finally {
      await bare.stop();
      await rm(empty, { recursive: true });
    }
  });

  it('renders every shipped guide with its own title', async () => {
    for (const [file, title] of [
      ['fastcgi.md', 'FastCGI: keep the process, speak in records'],
      ['architecture.md', undefined],
      ['embedded.md', undefined],
    ] as const) {
      const shipped = await startTestServer(() => createCgiMode());
      try {
        const html = await (await fetch(`${shipped.url}${file}`, { headers: browser })).text();
        assert.match(html, /<h1 id="[^"]+">/, file);
        if (title) assert.ok(html.includes(`<title>${title} · webhist</title>`), file);
      } finally {
        await shipped.stop();
      }
    }
  });
});

describe('the pieces', () => {
  it('reads Accept as a browser and curl send it', () => {
    assert.equal(acceptsHtml(browser.Accept), true);
    assert.equal(acceptsHtml('*/*'), false);
    assert.equal(acceptsHtml(undefined), false);
    assert.equal(acceptsHtml('TEXT/HTML; q=0.5'), true);
    assert.equal(acceptsHtml('text/html;q=0.0'), false);
  });

  it('titles a page without a heading by its file name, and escapes the title', () => {
    const page = renderMarkdownPage('no heading here', { fallbackTitle: 'a<b>.md', rawHref: 'x.md?raw' });
    assert.equal(page.title, 'a<b>.md');
    assert.match(page.html, /<title>a&#60;b&#62;\.md · webhist<\/title>/);
  });
});
