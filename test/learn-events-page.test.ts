/**
 * docs/events.html, the page lesson 11 links to, in a real browser: Chromium's own EventSource
 * reads lesson 11's reference events.py through webhist in CGI mode, event by event with its id,
 * and the script's process goes when the page stops listening.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createCgiMode } from '../modes/cgi/index.ts';
import { liveProcesses } from '../src/live-events.ts';
import { chromiumMissing, resultsPath, withPage } from './support/browser.ts';
import { eventually, isAlive } from './support/http.ts';
import { lesson } from './support/learn-workspace.ts';
import { startTestServer, type TestServer } from './support/server.ts';

describe('events.html, the Server-Sent Events page, in Chromium', { skip: chromiumMissing }, () => {
  let server: TestServer;
  before(async () => {
    const events = await readFile(join(lesson(11).dir, 'solution', 'cgi-bin', 'events.py'), 'utf8');
    server = await startTestServer(() => createCgiMode({ spawn: 'node' }), { 'events.py': events });
  });
  after(() => server.stop());

  it('EventSource shows each tick with its id; stopping ends the script', async () => {
    await withPage(async (page) => {
      await page.goto(`${server.url}events.html`);
      await page.getByText('id 1: tick 1').waitFor();
      await page.getByText('id 2: tick 2').waitFor();
      assert.equal(await page.locator('#state').textContent(), 'open');
      const pid = liveProcesses().find((p) => p.script === '/cgi-bin/events.py')?.pid;
      assert.ok(pid && isAlive(pid), "the page's stream has its process");
      await page.screenshot({ path: resultsPath('events-page.png') });
      await page.getByRole('button', { name: 'stop' }).click();
      await page.getByText('closed by the page').waitFor();
      await eventually(() => !isAlive(pid), 5000, 'events.py to be stopped when the page stopped listening');
    });
  });
});
