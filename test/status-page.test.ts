/**
 * The live page (/webhist/status in a browser) in a real headless Chromium, against `webhist
 * serve` started as a user starts it, in each process model. The page fires a burst of requests
 * with its own "try it" button, and the DOM must show what the model implies: under CGI a new
 * process for every request, under FastCGI the same two workers (and a fresh one after a worker
 * is killed), embedded the server alone, and with --processes 2 a process stuck in block.js shown
 * busy. A screenshot per mode is left in test-results/ for a person to look at.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { packageRoot } from '../src/package-root.ts';
import { chromiumMissing, resultsPath, withPage, type Page } from './support/browser.ts';

const bin = join(packageRoot, 'bin/webhist.js');

/** `webhist serve --port 0 ...` until the test ends; resolves with its URL once it listens. */
async function serve(t: TestContext, ...args: string[]): Promise<string> {
  const child = spawn(process.execPath, [bin, 'serve', '--port', '0', '--quiet', ...args], { cwd: packageRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => {
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 3000).unref();
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d;
      const url = /on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out)?.[1];
      if (url) resolve(url);
    });
    child.once('exit', (code) => reject(new Error(`webhist serve exited (${code}) before it listened: ${err}`)));
  });
}

async function openLive(page: Page, url: string, mode: string): Promise<number> {
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto(new URL('/webhist/status', url).href);
  await page.waitForFunction((m) => document.body.dataset.mode === m && document.body.dataset.connected === 'true', mode);
  return Number(await page.evaluate(() => document.body.dataset.pid));
}

/** Clicks "burst of 50" and waits until the timeline holds 50 finished hello.js bars more than `before`. */
async function burst(page: Page, before = 0): Promise<number[]> {
  await page.click('button[data-times="50"]');
  await page.waitForFunction((n) => document.querySelectorAll('#timeline rect.bar[data-target="/cgi-bin/hello.js"][data-outcome]').length >= n, before + 50, {
    timeout: 60_000,
  });
  // A pid per finished bar, in the order drawn; -1 for one that did not end 2xx.
  return page.$$eval('#timeline rect.bar[data-target="/cgi-bin/hello.js"][data-outcome]', (bars) =>
    bars.map((bar) => (bar.getAttribute('data-outcome') === '2xx' ? Number(bar.getAttribute('data-pid')) : -1)),
  );
}

async function tableRows(page: Page): Promise<Array<{ pid: number; kind: string; state: string; current: string }>> {
  return page.$$eval('#processes tbody tr', (rows) =>
    rows.map((tr) => {
      const cells = [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '');
      return { pid: Number(cells[0]), kind: tr.getAttribute('data-kind') ?? '', state: cells[2]!, current: cells[4]! };
    }),
  );
}

describe('the live page in Chromium', { skip: chromiumMissing }, () => {
  it('cgi: every request on a process of its own', async (t) => {
    const url = await serve(t, '--mode', 'cgi');
    await withPage(async (page) => {
      const server = await openLive(page, url, 'cgi');
      const pids = await burst(page);
      assert.ok(!pids.includes(-1), 'every hello.js ended 2xx');
      assert.equal(pids.length, 50);
      assert.equal(new Set(pids).size, 50, 'distinct pids == requests');
      assert.ok(!pids.includes(server), 'none served by the server process itself');
      await page.waitForFunction(() => Number(document.querySelector('[data-counter="processesStarted"]')?.textContent?.split(' ')[0]) >= 50);
      await page.screenshot({ path: resultsPath('live-cgi.png'), fullPage: true });
    });
  });

  it('fastcgi --workers 2: at most two pids, and a fresh one after a worker is killed', async (t) => {
    const url = await serve(t, '--mode', 'fastcgi', '--workers', '2');
    await withPage(async (page) => {
      await openLive(page, url, 'fastcgi');
      const first = await burst(page);
      assert.ok(!first.includes(-1), 'every hello.js ended 2xx');
      const workers = new Set(first);
      assert.ok(workers.size >= 1 && workers.size <= 2, `served by ${[...workers].join(', ')}`);
      await page.waitForFunction(() => document.querySelectorAll('#processes tbody tr').length >= 3); // server, manager, 2 workers
      const listed = (await tableRows(page)).filter((row) => row.kind === 'worker').map((row) => row.pid);
      assert.equal(listed.length, 2, `two workers in the table: ${listed.join(', ')}`);
      const victim = listed[0]!;
      process.kill(victim, 'SIGKILL');
      await page.waitForFunction(
        ({ gone }) => {
          const pids = [...document.querySelectorAll('#processes tbody tr')]
            .filter((tr) => tr.getAttribute('data-kind') === 'worker')
            .map((tr) => Number(tr.getAttribute('data-pid')));
          return pids.length === 2 && !pids.includes(gone);
        },
        { gone: victim },
        { timeout: 15_000 },
      );
      const second = (await burst(page, 50)).slice(50);
      const after = new Set(second);
      assert.ok(after.size <= 2, `the second burst served by ${[...after].join(', ')}`);
      assert.ok(!after.has(victim), 'the killed worker serves nothing');
      const fresh = (await tableRows(page)).filter((row) => row.kind === 'worker').map((row) => row.pid);
      assert.ok(
        fresh.some((pid) => !listed.includes(pid)),
        `a new worker pid in the table: ${fresh.join(', ')}`,
      );
      await page.screenshot({ path: resultsPath('live-fastcgi.png'), fullPage: true });
    });
  });

  it('embedded: the server process serves every request', async (t) => {
    const url = await serve(t, '--mode', 'embedded');
    await withPage(async (page) => {
      const server = await openLive(page, url, 'embedded');
      const pids = await burst(page);
      assert.deepEqual([...new Set(pids)], [server]);
      await page.click('button[data-try="/cgi-bin/slow.js?ms=2000"]');
      await page.waitForSelector('#timeline rect.bar.inflight[data-target="/cgi-bin/slow.js?ms=2000"]');
      await page.waitForTimeout(1500); // for the screenshot: the slow request's bar grows
      await page.screenshot({ path: resultsPath('live-embedded.png'), fullPage: true });
    });
  });

  it('embedded --processes 2: a process held by block.js is shown busy', async (t) => {
    const url = await serve(t, '--mode', 'embedded', '--processes', '2', '--timeout', '20s');
    await withPage(async (page) => {
      await openLive(page, url, 'embedded');
      await page.waitForFunction(() => document.querySelectorAll('#processes tbody tr').length === 2);
      // Whichever process takes it, the page shows it: from the other one, reconnecting if it must.
      const held = fetch(new URL('/cgi-bin/block.js?ms=8000', url)).then((res) => res.text());
      await page.waitForFunction(
        () =>
          [...document.querySelectorAll('#processes tbody tr')].some((tr) => tr.getAttribute('data-state') === 'busy' && tr.textContent?.includes('block.js')),
        undefined,
        { timeout: 15_000 },
      );
      const busy = (await tableRows(page)).filter((row) => row.state === 'busy');
      assert.equal(busy.length, 1, JSON.stringify(busy));
      assert.match(busy[0]!.current, /block\.js/);
      await page.waitForTimeout(2000); // for the screenshot: the held process's bar grows
      await page.screenshot({ path: resultsPath('live-processes.png'), fullPage: true });
      assert.match(await held, /held the event loop for 8000 ms/);
    });
  });
});
