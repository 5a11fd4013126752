/**
 * The landing page and the docs in a real headless Chromium, as a learner meets them: the mode
 * notes the page shows, every link on it answering what the page says it answers in that mode,
 * every lesson and guide rendered (a heading, no raw markdown), and the two demos that used to
 * fail in Chromium (server push, a crash mid-response) showing something. Screenshots of the
 * landing page and a guide are left in test-results/ for a person to look at.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { createCgiMode } from '../modes/cgi/index.ts';
import { createEmbeddedMode } from '../modes/embedded/index.ts';
import { packageRoot, shippedCgiBin, shippedDocroot } from '../src/package-root.ts';
import { createLogger } from '../src/server/log.ts';
import { chromiumMissing, resultsPath, withPage, type Page } from './support/browser.ts';
import { startTestServer, type ModeFactory, type TestServer } from './support/server.ts';

const html = { Accept: 'text/html,*/*;q=0.8' };
/** Links to programs built at install, which a machine without their compiler or library lacks. */
const builtAtInstall: Record<string, string> = {
  '/cgi-bin/hello.cgi': 'a C compiler (gcc)',
  '/cgi-bin/hello-fcgi.cgi': 'libfcgi-dev',
};

interface LandingLink {
  href: string;
  /** What the page says the link answers: data-status, or 500 for a plain program in embedded mode. */
  expected: number;
}

/** The shipped docs plus the test fixture's sample lesson, so at least one lesson is listed. */
async function docrootWithSampleLesson(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'webhist-docroot-'));
  await cp(shippedDocroot, dir, { recursive: true });
  await cp(join(packageRoot, 'test/fixtures/docroot/lessons/01-sample'), join(dir, 'lessons/00-fixture-sample'), { recursive: true });
  return dir;
}

async function openLanding(page: Page, server: TestServer, mode: string): Promise<LandingLink[]> {
  await page.goto(server.url);
  await page.waitForFunction((m) => document.body.dataset.mode === m, mode);
  // The lessons are listed from a second request: their links are only there once it is answered.
  await page.waitForSelector('#lessons[data-loaded]', { state: 'attached' });
  return page.$$eval(
    'a[href]',
    (links, m) =>
      links.map((a) => ({
        href: new URL((a as HTMLAnchorElement).href).pathname + new URL((a as HTMLAnchorElement).href).search,
        expected: m === 'embedded' && a.hasAttribute('data-program') ? 500 : Number(a.getAttribute('data-status') ?? 200),
      })),
    mode,
  );
}

/** Each link, one at a time (block.js holds an embedded server), as a subtest of its own. */
async function checkLinks(t: TestContext, server: TestServer, links: LandingLink[]): Promise<void> {
  for (const { href, expected } of links) {
    await t.test(href, async (sub) => {
      const needs = builtAtInstall[href.split('?')[0]!];
      if (needs && !existsSync(join(shippedCgiBin, href.split('/').pop()!))) {
        sub.skip(`not built: needs ${needs} at npm install`);
        return;
      }
      const res = await fetch(new URL(href, server.url), { headers: html });
      await res.body?.cancel(); // the status is the claim; nph-clock would stream for 10 s
      assert.equal(res.status, expected, `${href} answers ${res.status}; the page says ${expected}`);
    });
  }
}

describe('the landing page in Chromium', { skip: chromiumMissing }, () => {
  let docroot: string;
  before(async () => {
    docroot = await docrootWithSampleLesson();
  });
  after(() => rm(docroot, { recursive: true, force: true }));

  async function serve(mode: ModeFactory): Promise<TestServer> {
    const server = await startTestServer(mode, {}, { docroot, timeoutMs: 5000 });
    after(() => server.stop());
    return server;
  }

  it('in cgi mode: says so, lists the lessons, and every link answers what the page says', async (t) => {
    const server = await serve(() => createCgiMode());
    const links = await withPage(async (page) => {
      const found = await openLanding(page, server, 'cgi');
      assert.match((await page.textContent('#mode')) ?? '', /runs in cgi mode \(1993\): every script link below starts a new process/);
      assert.match((await page.textContent('#lessons')) ?? '', /A sample lesson/);
      assert.match(await page.innerText('body'), /cgi mode: always count=1/);
      assert.doesNotMatch(await page.innerText('body'), /embedded mode: 500/);
      await page.screenshot({ path: resultsPath('landing-cgi.png'), fullPage: true });
      return found;
    });
    for (const doc of ['/architecture.md', '/fastcgi.md', '/embedded.md', '/lessons/00-fixture-sample/README.md', '/webhist/status']) {
      assert.ok(
        links.some((link) => link.href === doc),
        `the page links ${doc}`,
      );
    }
    await checkLinks(t, server, links);
  });

  it('in embedded mode: says so, and the plain programs answer 500 as it warns', async (t) => {
    const server = await serve(createEmbeddedMode({ logger: createLogger({ format: 'clf', quiet: true }) }));
    const links = await withPage(async (page) => {
      const found = await openLanding(page, server, 'embedded');
      assert.match((await page.textContent('#mode')) ?? '', /runs in embedded mode.*their links answer 500/);
      assert.match(await page.innerText('body'), /embedded mode: 500, a plain program cannot run inside the server/);
      assert.match(await page.innerText('body'), /embedded mode: it stops the whole server/);
      await page.screenshot({ path: resultsPath('landing-embedded.png'), fullPage: true });
      return found;
    });
    assert.ok(links.filter((link) => link.expected === 500).length >= 7, 'the plain hello programs are marked');
    await checkLinks(t, server, links);
  });

  it('renders every lesson and guide it links: a heading, no markdown left raw', async () => {
    const server = await serve(() => createCgiMode());
    await withPage(async (page) => {
      const links = await openLanding(page, server, 'cgi');
      const docs = links.map((link) => link.href).filter((href) => href.endsWith('.md'));
      assert.ok(docs.length >= 4, `guides and lessons linked: ${docs.join(' ')}`);
      for (const doc of docs) {
        const res = await page.goto(new URL(doc, server.url).href);
        assert.equal(res?.status(), 200, doc);
        assert.equal(res?.headers()['content-type'], 'text/html; charset=utf-8', doc);
        assert.ok((await page.textContent('h1'))?.trim(), `${doc} has a heading`);
        const text = await page.innerText('main');
        assert.doesNotMatch(text, /^(#{1,6} |```)/m, `${doc}: markdown shown raw`);
        if (doc === '/fastcgi.md') await page.screenshot({ path: resultsPath('doc-fastcgi.png'), fullPage: false });
      }
    });
  });

  it('shows the server-push clock as images, and the line crash.js sent before it died', async () => {
    const server = await serve(() => createCgiMode());
    await withPage(async (page) => {
      await page.goto(new URL('/cgi-bin/nph-clock.js?n=3&as=svg', server.url).href, { waitUntil: 'commit' });
      await page.waitForFunction(() => (document.images[0]?.naturalWidth ?? 0) > 0, undefined, { timeout: 10_000 });
      await page.goto(new URL('/cgi-bin/crash.js', server.url).href, { waitUntil: 'commit' });
      await page.waitForFunction(() => document.body?.innerText.includes('This line arrives'), undefined, { timeout: 10_000 });
    });
  });
});
