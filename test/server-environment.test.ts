/**
 * The environment `webhist serve` and `webhist worker` keep of their own (src/cli/server-environment.ts):
 * an allow-list, so a secret under any name is dropped; and the re-executed server, same pid,
 * whose /proc/<pid>/environ holds only what was kept.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { launch, stop } from '../bench/process/launch.ts';
import { isKept, serverEnvironment } from '../src/cli/server-environment.ts';

describe('the server environment', () => {
  for (const [name, kept] of [
    ['PATH', true],
    ['HOME', true],
    ['LANG', true],
    ['LC_ALL', true],
    ['LC_CTYPE', true],
    ['TERM', true],
    ['NO_COLOR', true],
    ['FORCE_COLOR', true],
    ['TZ', true],
    ['TMPDIR', true],
    ['NODE_OPTIONS', true],
    ['FCGI_WEB_SERVER_ADDRS', true],
    ['AWS_SECRET_ACCESS_KEY', false],
    ['DATABASE_URL', false],
    ['GITHUB_TOKEN', false],
    ['HTTP_PROXY', false],
    ['LD_PRELOAD', false],
    ['NODE_EXTRA_CA_CERTS', false],
    ['npm_config_cache', false],
    ['PATHX', false],
  ] as const) {
    it(`${kept ? 'keeps' : 'drops'} ${name}`, () => assert.equal(isKept(name), kept));
  }

  it('is the environment less what is not kept', () => {
    assert.deepEqual(serverEnvironment({ PATH: '/bin', API_KEY: 'k', LC_ALL: 'C', HOME: undefined }), { PATH: '/bin', LC_ALL: 'C' });
  });

  it('is what /proc/<pid>/environ of a running `webhist serve` holds: the same pid, re-executed', async () => {
    const server = launch('webhist', process.execPath, ['bin/webhist.js', 'serve', '--port', '0', '--quiet'], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nowhere', LANG: 'C.UTF-8', WEBHIST_TEST_SECRET: 'do-not-keep' },
    });
    try {
      await server.waitFor(/on http:\/\//);
      const names = (await readFile(`/proc/${server.pid}/environ`, 'latin1'))
        .split('\0')
        .filter(Boolean)
        .map((entry) => entry.split('=')[0]);
      assert.deepEqual(names.sort(), ['HOME', 'LANG', 'PATH']);
    } finally {
      await stop([server]);
    }
  });
});
