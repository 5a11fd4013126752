/**
 * The front's checks of a request head (src/server/request-head.ts) and of the names it never
 * serves (isHiddenPath in src/server/paths.ts), as tables. Over real sockets: test/attack/front.test.ts.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import { isHiddenPath } from '../src/server/paths.ts';
import { checkRequestHead, isLoopback } from '../src/server/request-head.ts';

/** Just what checkRequestHead reads and writes of a request. */
function head(url: string, rawHeaders: string[]): IncomingMessage {
  const headers: Record<string, string> = {};
  for (let i = 0; i < rawHeaders.length; i += 2) headers[rawHeaders[i]!.toLowerCase()] ??= rawHeaders[i + 1]!;
  return { url, rawHeaders: [...rawHeaders], headers } as unknown as IncomingMessage;
}

describe('checkRequestHead', () => {
  it('refuses two Host lines (RFC 9112 §3.2), in any case', () => {
    assert.match(checkRequestHead(head('/', ['Host', 'a', 'host', 'b'])) ?? '', /more than one Host/);
  });

  it('leaves an origin-form request as it is', () => {
    const req = head('/x?y', ['Host', 'a']);
    assert.equal(checkRequestHead(req), undefined);
    assert.equal(req.url, '/x?y');
    assert.deepEqual(req.rawHeaders, ['Host', 'a']);
  });

  for (const [target, url, host] of [
    ['http://site.example:8080/cgi-bin/x.sh/a%20b?q=1', '/cgi-bin/x.sh/a%20b?q=1', 'site.example:8080'],
    ['HTTP://Site.example', '/', 'Site.example'],
    ['http://[::1]:80?q', '/?q', '[::1]:80'],
    // Still encoded and not normalised: paths.ts decodes it once and refuses the climb.
    ['http://h/cgi-bin/.%2e/%2e%2e/x', '/cgi-bin/.%2e/%2e%2e/x', 'h'],
  ] as const) {
    it(`takes ${target} as ${url} on host ${host} (RFC 9112 §3.2.2), whatever Host said`, () => {
      const req = head(target, ['Host', 'elsewhere', 'Accept', '*/*']);
      assert.equal(checkRequestHead(req), undefined);
      assert.equal(req.url, url);
      assert.deepEqual(req.rawHeaders, ['Host', host, 'Accept', '*/*']);
      assert.equal(req.headers.host, host);
    });
  }

  for (const target of ['http:///x', 'http://user:pw@h/x']) {
    it(`refuses ${target}`, () => assert.match(checkRequestHead(head(target, ['Host', 'h'])) ?? '', /absolute-form/));
  }
});

describe('isLoopback', () => {
  for (const [address, loopback] of [
    ['127.0.0.1', true],
    ['127.1.2.3', true],
    ['::1', true],
    ['::ffff:127.0.0.1', true],
    ['10.0.0.1', false],
    ['::ffff:10.0.0.1', false],
    ['128.0.0.1', false],
    ['fe80::1', false],
    ['127.0.0.1.example', false],
    [undefined, false],
  ] as const) {
    it(`${address} → ${loopback}`, () => assert.equal(isLoopback(address), loopback));
  }
});

describe('isHiddenPath', () => {
  for (const [path, hidden] of [
    ['/index.html', false],
    ['/docs/a.b.c', false],
    ['/.well-known/security.txt', false],
    ['/cgi-bin/hello.sh', false],
    ['/', false],
    ['/docs/', false],
    ['/.env', true],
    ['/.git/config', true],
    ['/a/.htpasswd', true],
    ['/a/.#lock', true],
    ['/a/.well-known/x', true], // only at the top, as RFC 8615 has it
    ['/page.html~', true],
    ['/page.html.bak', true],
    ['/page.html.BAK', true],
    ['/page.orig', true],
    ['/.page.html.swp', true],
    ['/page.swo', true],
    ['/#page.html#', true],
    ['/cgi-bin/hello.sh~', true],
    ['/backup/', false],
  ] as const) {
    it(`${path} → ${hidden ? 'hidden' : 'served'}`, () => assert.equal(isHiddenPath(path), hidden));
  }
});
