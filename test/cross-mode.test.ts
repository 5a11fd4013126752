/**
 * Same script, same bytes (DESIGN.md, "The script contract"): every handler script shipped in
 * cgi-bin, asked the same thing under cgi, fastcgi and embedded mode, gets the same status, the
 * same headers (those that are not per-request) and the same body. Where a mode differs on
 * purpose, the test says which difference it expects.
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createCgiMode } from '../modes/cgi/index.ts';
import { createEmbeddedMode } from '../modes/embedded/index.ts';
import { createFastCgiMode } from '../modes/fastcgi/index.ts';
import { shippedCgiBin } from '../src/package-root.ts';
import { hasDefaultExport } from '../src/script/describe.ts';
import { rawRequest, type RawResponse } from './support/http.ts';
import { startTestServer, type ModeFactory, type TestServer } from './support/server.ts';

const modes: Record<string, ModeFactory> = {
  cgi: () => createCgiMode(),
  fastcgi: ({ cgiBin, logger }) => createFastCgiMode({ cgiBin, logger, workers: 1, pm: 'static', maxRequests: 0, trace: false }),
  embedded: ({ logger }) => createEmbeddedMode({ logger, watchdog: false }),
};

/** What each handler is asked, and the status every mode must give; a handler missing here fails the test. */
const requests: Record<string, Array<[request: string, status: number]>> = {
  'hello.js': [['GET /cgi-bin/hello.js', 200]],
  'big.js': [
    ['GET /cgi-bin/big.js?kb=0', 200],
    ['GET /cgi-bin/big.js?kb=300', 200],
  ],
  'status.js': [
    ['GET /cgi-bin/status.js', 418],
    ['GET /cgi-bin/status.js?code=204', 204],
    ['GET /cgi-bin/status.js?code=999', 400],
  ],
  'redirect.js': [
    ['GET /cgi-bin/redirect.js', 200],
    ['GET /cgi-bin/redirect.js?to=client', 302],
    ['GET /cgi-bin/redirect.js?to=doc', 301],
  ],
  'form.js': [
    ['GET /cgi-bin/form.js', 200],
    ['GET /cgi-bin/form.js?name=Ada&lang=en', 200],
  ],
  'echo.js': [['POST /cgi-bin/echo.js', 200]],
  'slow.js': [['GET /cgi-bin/slow.js?ms=10', 200]],
  'noheaders.js': [['GET /cgi-bin/noheaders.js', 502]],
  'crash.js': [['GET /cgi-bin/crash.js', 200]],
};

/** Scripts whose output differs by design, and why; each has its own test below or elsewhere. */
const different: Record<string, string> = {
  'counter.js': 'module state: fresh per request under CGI, kept per process otherwise (tested below)',
  'printenv.js': 'prints REMOTE_PORT and SERVER_PORT, different per connection (variable names compared below)',
  'nph-clock.js': 'prints the time (the conformance suite checks its framing in every mode)',
  'hang.js': 'never answers: 504 after --timeout in every mode (conformance suite)',
  'block.js': "blocks embedded mode's only thread by design (embedded tests)",
};

/** Headers that are per-request or per-connection, not the script's. */
const perRequest = new Set(['date', 'connection', 'keep-alive']);

describe('same script, same bytes, in every mode', () => {
  const servers: Record<string, TestServer> = {};
  before(async () => {
    for (const [name, create] of Object.entries(modes)) servers[name] = await startTestServer(create);
  });
  after(async () => {
    for (const server of Object.values(servers)) await server.stop();
  });

  async function ask(request: string): Promise<Record<string, RawResponse>> {
    const [method, target] = request.split(' ') as [string, string];
    const body = method === 'POST' ? 'name=Ada&x=%E2%9C%93' : '';
    const wire = `${method} ${target} HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n${body ? `Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n` : ''}\r\n${body}`;
    const answers: Record<string, RawResponse> = {};
    for (const [name, server] of Object.entries(servers)) answers[name] = await rawRequest(server.port, wire);
    return answers;
  }

  const comparable = (res: RawResponse) => ({
    status: res.status,
    headers: Object.fromEntries(Object.entries(res.headers).filter(([key]) => !perRequest.has(key))),
    body: res.body.toString('latin1'),
    complete: res.complete,
  });

  it('has a case (or a stated difference) for every handler shipped', async () => {
    const handlers: string[] = [];
    for (const file of await readdir(shippedCgiBin)) {
      if (/\.(js|mjs|ts)$/.test(file) && (await hasDefaultExport(join(shippedCgiBin, file)))) handlers.push(file);
    }
    assert.deepEqual(
      handlers.filter((file) => !requests[file] && !different[file]),
      [],
    );
  });

  for (const [script, asks] of Object.entries(requests)) {
    for (const [request, status] of asks) {
      it(`${request}: ${status}, and identical under cgi, fastcgi and embedded`, async () => {
        const { cgi, fastcgi, embedded } = await ask(request);
        assert.equal(cgi!.status, status);
        assert.deepEqual(comparable(fastcgi!), comparable(cgi!), `${script}: fastcgi differs from cgi`);
        assert.deepEqual(comparable(embedded!), comparable(cgi!), `${script}: embedded differs from cgi`);
      });
    }
  }

  it('printenv.js: the same variables in every mode (values such as REMOTE_PORT differ per connection)', async () => {
    const answers = await ask('GET /cgi-bin/printenv.js/x?a=1');
    const names = (res: RawResponse) => [...res.body.toString().matchAll(/^(\w+)=/gm)].map((m) => m[1]);
    assert.deepEqual(names(answers.fastcgi!), names(answers.cgi!));
    assert.deepEqual(names(answers.embedded!), names(answers.cgi!));
  });

  it('counter.js: the difference on purpose — state resets per request only under CGI', async () => {
    const counts: Record<string, number[]> = {};
    for (let i = 0; i < 3; i++) {
      for (const [name, res] of Object.entries(await ask('GET /cgi-bin/counter.js'))) {
        (counts[name] ??= []).push(Number(/count=(\d+)/.exec(res.body.toString())?.[1]));
      }
    }
    assert.deepEqual(counts.cgi, [1, 1, 1]);
    // One worker, one embedded process: the count goes on from wherever earlier tests left it.
    for (const name of ['fastcgi', 'embedded']) {
      const [first, second, third] = counts[name]!;
      assert.deepEqual([second, third], [first! + 1, first! + 2], name);
    }
  });
});
