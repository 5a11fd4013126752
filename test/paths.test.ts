// Path decoding, normalisation and resolution against every traversal spelling we know of,
// including the one that broke Apache 2.4.49 (CVE-2021-41773) and its double-encoded sequel.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, realpath, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { decodeAndNormalize, isHiddenPath, isHiddenSegment, normalizeRequestPath, resolveScript, resolveStatic } from '../src/server/paths.ts';

describe('isHiddenPath', () => {
  /** The rule as written: a segment at a time, RFC 8615's /.well-known/ spared. */
  const bySegment = (path: string) =>
    path.split('/').some((segment, i) => segment !== '' && !(i === 1 && segment === '.well-known') && isHiddenSegment(segment));

  test('hides dot names, backups and swap files, and spares /.well-known/', () => {
    for (const path of [
      '/.env',
      '/.git/config',
      '/a/.htpasswd',
      '/page.html~',
      '/x/page.BAK',
      '/p.orig',
      '/p.swp/x',
      '/p.swo',
      '/#page.html#',
      '/.well-known/.git/x',
    ]) {
      assert.equal(isHiddenPath(path), true, path);
    }
    for (const path of ['/', '/index.html', '/a/b/', '/.well-known/security.txt', '/.well-known', '/a.bakery', '/a~b', '/#', '/a#b#c', '/cgi-bin/hello.sh']) {
      assert.equal(isHiddenPath(path), false, path);
    }
  });

  test('the one expression agrees with the rule segment by segment', () => {
    const segment = fc.stringMatching(/^(?:[a-z]|\.|~|#|\.well-known|\.bak|\.SWP|\.orig|\.swo|well-known)*$/, { maxLength: 12 });
    fc.assert(
      fc.property(fc.array(segment, { maxLength: 5 }), (segments) => {
        const path = `/${segments.join('/')}`;
        assert.equal(isHiddenPath(path), bySegment(path), path);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('normalizeRequestPath', () => {
  const cases: [raw: string, expected: string | undefined][] = [
    ['/', '/'],
    ['/index.html', '/index.html'],
    ['/a/b/', '/a/b/'],
    ['//etc/passwd', '/etc/passwd'],
    ['/a//b///c', '/a/b/c'],
    ['/a//', '/a/'],
    ['/a/./b', '/a/b'],
    ['/a/.', '/a/'],
    ['/a/b/..', '/a/'],
    ['/a/b/../c', '/a/c'],
    ['/a/%2e./b', '/b'],
    ['/...', '/...'],
    ['/.hidden', '/.hidden'], // a name, refused later by the resolvers
    ['/hello%20world.txt', '/hello world.txt'],
    ['/caf%C3%A9', '/café'],
    ['/a+b', '/a+b'], // `+` means space only in a query
    // Climbing above the root, however spelled.
    ['/..', undefined],
    ['/../etc/passwd', undefined],
    ['/a/../..', undefined],
    ['/%2e%2e/etc/passwd', undefined],
    ['/%2E%2E/', undefined],
    ['/.%2e/x', undefined],
    ['/%2e./x', undefined],
    ['/a/.%2e/.%2e/x', undefined],
    ['/cgi-bin/.%2e/%2e%2e/bin/sh', undefined],
    ['/cgi-bin/.%2e/bin/sh', '/bin/sh'], // seen as "..": it leaves cgi-bin, so it is no script
    // Double encoding is decoded once: a literal "%2e%2e" name, never a climb.
    ['/cgi-bin/%252e%252e/%252e%252e/bin/sh', '/cgi-bin/%2e%2e/%2e%2e/bin/sh'],
    ['/%252e%252e', '/%2e%2e'],
    ['/cgi-bin/%%32%65%%32%65/bin/sh', undefined], // CVE-2021-42013's spelling: `%%` is malformed
    // Encoded slashes and backslashes are ambiguous: refused.
    ['/a%2fb', undefined],
    ['/a%2Fb', undefined],
    ['/..%2f..%2fetc%2fpasswd', undefined],
    ['/a%5cb', undefined],
    ['/a\\b', undefined],
    ['/..\\..\\etc\\passwd', undefined],
    // NUL and other control characters, raw or encoded.
    ['/a%00b', undefined],
    ['/a.txt%00.html', undefined],
    ['/a\0b', undefined],
    ['/a%0d%0aSet-Cookie:x', undefined],
    ['/a%09b', undefined],
    ['/a%7f', undefined],
    ['/a%c2%85', undefined], // U+0085, a C1 control
    // Malformed escapes.
    ['/%zz', undefined],
    ['/100%', undefined],
    ['/%e', undefined],
    ['/%ff', undefined], // not UTF-8
    // Not a path at all.
    ['', undefined],
    ['*', undefined],
    ['relative/path', undefined],
  ];
  for (const [raw, expected] of cases) {
    test(`${JSON.stringify(raw)} → ${JSON.stringify(expected)}`, () => {
      assert.equal(normalizeRequestPath(raw), expected);
    });
  }

  test('its shortcut for plain paths gives what the full algorithm gives', () => {
    const pieces = ['a', 'b.js', '.', '..', '...', '.x', '/', '//', '%2e', '%41', '~', '-', '!', '$', '\\', '%', ':'];
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...pieces), { maxLength: 12 }), (parts) => {
        const raw = `/${parts.join('')}`;
        assert.equal(normalizeRequestPath(raw), decodeAndNormalize(raw), raw);
      }),
      { numRuns: 3000 },
    );
  });
});

// A temporary tree: a cgi-bin and a docroot, each with things that must never be reached
// beside them, and a sibling whose name shares their prefix.
let base: string;
let cgiBin: string;
let docroot: string;

before(async () => {
  base = await realpath(await mkdtemp(join(tmpdir(), 'webhist-paths-')));
  cgiBin = join(base, 'cgi-bin');
  docroot = join(base, 'docroot');
  const files: Record<string, string> = {
    'outside/sh': '#!/bin/sh\necho pwned\n',
    'outside/secret.txt': 'secret\n',
    'cgi-bin-evil/sh': '#!/bin/sh\necho pwned\n',
    'docroot-evil/x': 'evil\n',
    'cgi-bin/hello.sh': '#!/bin/sh\necho hello\n',
    'cgi-bin/sub/tool.sh': '#!/bin/sh\n',
    'cgi-bin/.hidden.sh': '#!/bin/sh\n',
    'cgi-bin/.git/hook.sh': '#!/bin/sh\n',
    'docroot/index.html': '<h1>home</h1>\n',
    'docroot/a.txt': 'hello\n',
    'docroot/sub/index.html': '<h1>sub</h1>\n',
    'docroot/sub/page.html': '<p>page</p>\n',
    'docroot/.secret': 'secret\n',
    'docroot/.git/config': '[core]\n',
    'docroot/%2e%2e': 'a literal name\n',
  };
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(base, path, '..'), { recursive: true });
    await writeFile(join(base, path), content);
  }
  await mkdir(join(cgiBin, 'emptydir'));
  await mkdir(join(docroot, 'noindex'));
  await mkdir(join(docroot, 'idx-out'));
  const links: Record<string, string> = {
    'cgi-bin/link-bin-sh': '/bin/sh',
    'cgi-bin/link-out': '../outside/sh',
    'cgi-bin/dir-out': '../outside',
    'cgi-bin/sibling': '../cgi-bin-evil/sh',
    'cgi-bin/link-in': 'hello.sh',
    'docroot/out-link': '../outside/secret.txt',
    'docroot/out-dir': '../outside',
    'docroot/sibling': '../docroot-evil/x',
    'docroot/in-link': 'a.txt',
    'docroot/idx-out/index.html': '../../outside/secret.txt',
    'cgi-link': 'cgi-bin',
  };
  for (const [path, target] of Object.entries(links)) await symlink(target, join(base, path));
});

after(async () => {
  await rm(base, { recursive: true, force: true });
});

describe('resolveScript', () => {
  type Found = { file: string; scriptPath: string; pathInfo: string } | undefined;
  const script = (file: string, scriptPath: string, pathInfo: string): Found => ({ file, scriptPath, pathInfo });
  const cases: [rest: string, expected: Found][] = [
    ['/hello.sh', script('hello.sh', '/hello.sh', '')],
    ['/hello.sh/', script('hello.sh', '/hello.sh', '/')],
    ['/hello.sh/extra/path', script('hello.sh', '/hello.sh', '/extra/path')],
    ['/hello.sh/.hidden/x', script('hello.sh', '/hello.sh', '/.hidden/x')], // PATH_INFO is data
    ['/sub/tool.sh/a', script('sub/tool.sh', '/sub/tool.sh', '/a')],
    ['/link-in/x', script('hello.sh', '/link-in', '/x')], // a link staying inside is fine
    ['/%2e%2e/%2e%2e/bin/sh', undefined], // the double-encoded spelling, decoded once
    ['', undefined],
    ['/', undefined],
    ['/sub', undefined],
    ['/sub/', undefined],
    ['/emptydir/x', undefined],
    ['/missing.sh', undefined],
    ['/.hidden.sh', undefined],
    ['/.git/hook.sh', undefined],
    ['/link-bin-sh', undefined],
    ['/link-out', undefined],
    ['/dir-out/sh', undefined],
    ['/sibling', undefined],
  ];
  for (const [rest, expected] of cases) {
    test(`${JSON.stringify(rest)} → ${JSON.stringify(expected)}`, async () => {
      const found = await resolveScript(cgiBin, rest);
      assert.deepEqual(found && { ...found, file: relative(cgiBin, found.file) }, expected);
    });
  }

  // What the server does: normalise the raw request path, then resolve what follows /cgi-bin.
  async function route(raw: string): Promise<string> {
    const path = normalizeRequestPath(raw);
    if (path === undefined) return '400';
    if (!path.startsWith('/cgi-bin/')) return `not cgi-bin: ${path}`;
    const found = await resolveScript(cgiBin, path.slice('/cgi-bin'.length));
    return found ? `${found.scriptPath} ${JSON.stringify(found.pathInfo)}` : '404';
  }
  const spellings: [raw: string, expected: string][] = [
    ['/cgi-bin/hello.sh/x', '/hello.sh "/x"'],
    ['/cgi-bin//hello.sh', '/hello.sh ""'],
    ['/cgi-bin/./hello.sh', '/hello.sh ""'],
    ['/cgi-bin/sub/../hello.sh', '/hello.sh ""'],
    ['/cgi-bin/hello%2esh', '/hello.sh ""'],
    ['/cgi-bin/.%2e/%2e%2e/bin/sh', '400'],
    ['/cgi-bin/%2e%2e/%2e%2e/%2e%2e/bin/sh', '400'],
    ['/cgi-bin/.%2e/outside/sh', 'not cgi-bin: /outside/sh'],
    ['/cgi-bin/%2e./cgi-bin-evil/sh', 'not cgi-bin: /cgi-bin-evil/sh'],
    ['/cgi-bin/%252e%252e/%252e%252e/bin/sh', '404'],
    ['/cgi-bin/..%2fbin/sh', '400'],
    ['/cgi-bin/%2e%2e%2f%2e%2e%2fbin/sh', '400'],
    ['/cgi-bin/..\\..\\bin\\sh', '400'],
    ['/cgi-bin/hello.sh%00.txt', '400'],
    ['/cgi-bin/.hidden.sh', '404'],
    ['/cgi-bin/%2ehidden.sh', '404'],
    ['/cgi-bin/%2egit/hook.sh', '404'],
    ['/cgi-bin/link-bin-sh', '404'],
    ['/cgi-bin/dir-out/sh', '404'],
  ];
  for (const [raw, expected] of spellings) {
    test(`request ${JSON.stringify(raw)} → ${expected}`, async () => {
      assert.equal(await route(raw), expected);
    });
  }

  test('a script swapped for a link out between calls is refused on the next call', async () => {
    const hello = join(cgiBin, 'hello.sh');
    assert.equal((await resolveScript(cgiBin, '/hello.sh'))?.file, hello);
    await rename(hello, join(base, 'hello.sh.saved'));
    await symlink('/bin/sh', hello);
    try {
      assert.equal(await resolveScript(cgiBin, '/hello.sh'), undefined);
    } finally {
      await rm(hello);
      await rename(join(base, 'hello.sh.saved'), hello);
    }
  });

  test('cgi-bin reached through a symlink still works, and reports real paths', async () => {
    assert.deepEqual(await resolveScript(join(base, 'cgi-link'), '/hello.sh/x'), {
      file: join(cgiBin, 'hello.sh'),
      scriptPath: '/hello.sh',
      pathInfo: '/x',
    });
  });

  test('a missing cgi-bin finds nothing', async () => {
    assert.equal(await resolveScript(join(base, 'no-such-dir'), '/hello.sh'), undefined);
  });
});

describe('resolveStatic', () => {
  type Found = { file: string } | { redirect: string } | undefined;
  const cases: [path: string, expected: Found][] = [
    ['/', { file: 'index.html' }],
    ['/a.txt', { file: 'a.txt' }],
    ['/sub', { redirect: '/sub/' }],
    ['/sub/', { file: 'sub/index.html' }],
    ['/sub/page.html', { file: 'sub/page.html' }],
    ['/noindex', { redirect: '/noindex/' }],
    ['/in-link', { file: 'a.txt' }],
    ['/%2e%2e', { file: '%2e%2e' }], // the double-decoded spelling names a harmless file
    ['/a.txt/', undefined],
    ['/noindex/', undefined],
    ['/missing', undefined],
    ['/etc/passwd', undefined], // what "//etc/passwd" normalises to
    ['/.secret', undefined],
    ['/.git/config', undefined],
    ['/sub/.x', undefined],
    ['/out-link', undefined],
    ['/out-dir', undefined],
    ['/out-dir/secret.txt', undefined],
    ['/idx-out/', undefined],
    ['/sibling', undefined],
  ];
  for (const [path, expected] of cases) {
    test(`${JSON.stringify(path)} → ${JSON.stringify(expected)}`, async () => {
      const found = await resolveStatic(docroot, path);
      let actual: Found = found;
      if (found && 'file' in found) {
        assert.ok(found.stat.isFile());
        actual = { file: relative(docroot, found.file) };
      }
      assert.deepEqual(actual, expected);
    });
  }
});
