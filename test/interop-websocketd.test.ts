/**
 * Interop: the same scripts under websocketd (Joe Walnes, 2013; Debian's `websocketd`) and under
 * webhist's WebSocket front (src/server/websocket.ts): the same messages back, and environments
 * that agree wherever both set a variable of the same meaning. Where they differ on purpose,
 * the test says how (docs/websocket.md, "Where webhist differs from websocketd").
 */
import assert from 'node:assert/strict';
import { chmod, cp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort, waitForListener } from '../bench/process/launch.ts';
import { findProgram } from '../bench/process/programs.ts';
import { createCgiMode } from '../modes/cgi/index.ts';
import { shippedCgiBin } from '../src/package-root.ts';
import { missing, startPeer, stopAll, tempDir } from './support/peers.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { converse, envOf, openSession } from './support/websocket.ts';

const scripts = {
  'env.sh': '#!/bin/sh\nenv\n',
  'quick.sh': '#!/bin/sh\necho bye\n',
};

describe('websocketd and webhist run the same scripts alike', { skip: missing('websocketd') }, () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let websocketdPort: number;
  let webhist: TestServer;

  before(async () => {
    tmp = await tempDir();
    const dir = join(tmp.dir, 'cgi-bin');
    await cp(shippedCgiBin, dir, { recursive: true });
    for (const [name, text] of Object.entries(scripts)) {
      await writeFile(join(dir, name), text);
      await chmod(join(dir, name), 0o755);
    }
    // websocketd has no port 0 (it means 80): a free port is found first.
    websocketdPort = await freePort();
    const peer = startPeer('websocketd', findProgram('websocketd')!, [`--port=${websocketdPort}`, '--address=127.0.0.1', `--dir=${dir}`, '--loglevel=error']);
    await waitForListener({ host: '127.0.0.1', port: websocketdPort }, peer);
    webhist = await startTestServer(() => createCgiMode({ spawn: 'node' }), scripts);
    for (const name of Object.keys(scripts)) await chmod(join(webhist.cgiBin, name), 0o755);
  });
  after(async () => {
    await webhist?.stop();
    await stopAll(); // throws if websocketd left a process behind
    await tmp?.remove();
  });

  it('upper.sh: the same messages back from both', async () => {
    const sent = ['hello', 'Mixed Case 123', 'two\nlines', '', 'ünïcödé'];
    const expected = ['HELLO', 'MIXED CASE 123', 'TWO', 'LINES', '', 'üNïCöDé'];
    const theirs = await converse(websocketdPort, '/upper.sh', sent, expected.length);
    const ours = await converse(webhist.port, '/cgi-bin/upper.sh', sent, expected.length);
    assert.deepEqual(theirs.replies, expected);
    assert.deepEqual(ours.replies, theirs.replies);
    // The client closed: both answer its 1000.
    assert.equal(theirs.code, 1000);
    assert.equal(ours.code, 1000);
  });

  it('a script that exits: the same messages; webhist sends a close frame (1000), websocketd drops the connection (1006)', async () => {
    const theirs = await openSession(websocketdPort, '/quick.sh');
    const ours = await openSession(webhist.port, '/cgi-bin/quick.sh');
    const [theirClose, ourClose] = await Promise.all([theirs.closed, ours.closed]);
    assert.deepEqual(theirs.messages, ['bye']);
    assert.deepEqual(ours.messages, theirs.messages);
    assert.equal(theirClose.code, 1006, 'websocketd closes TCP without a close frame: if this changed, update docs/websocket.md');
    assert.equal(ourClose.code, 1000);
  });

  it('the environment: every variable both set means the same', async () => {
    const headers = { 'X-Probe': 'interop', 'User-Agent': 'webhist-interop' };
    const read = async (port: number, path: string) => {
      const session = await openSession(port, path, headers);
      await session.closed;
      return envOf(session.messages);
    };
    const theirs = await read(websocketdPort, '/env.sh/extra?a=1&b=two');
    const ours = await read(webhist.port, '/cgi-bin/env.sh/extra?a=1&b=two');

    // The same value in both.
    for (const name of ['REQUEST_METHOD', 'SERVER_PROTOCOL', 'SERVER_NAME', 'REMOTE_ADDR', 'REMOTE_HOST', 'PATH_INFO', 'QUERY_STRING']) {
      assert.equal(ours[name], theirs[name], name);
    }
    // The same meaning, each server's own value: its port, the client's port, the path naming the script.
    assert.equal(theirs.SERVER_PORT, String(websocketdPort));
    assert.equal(ours.SERVER_PORT, String(webhist.port));
    assert.match(theirs.REMOTE_PORT!, /^\d+$/);
    assert.match(ours.REMOTE_PORT!, /^\d+$/);
    assert.equal(theirs.SCRIPT_NAME, '/env.sh');
    assert.equal(ours.SCRIPT_NAME, `/cgi-bin${theirs.SCRIPT_NAME}`);
    assert.equal(ours.REQUEST_URI, `/cgi-bin${theirs.REQUEST_URI}`);
    // The handshake's headers, as HTTP_*: the same names, the same values but for the
    // per-connection key and the Host (each server's port).
    const http = (env: Record<string, string>) =>
      Object.fromEntries(Object.entries(env).filter(([name]) => name.startsWith('HTTP_') && name !== 'HTTP_SEC_WEBSOCKET_KEY' && name !== 'HTTP_HOST'));
    assert.deepEqual(http(ours), http(theirs));
    assert.equal(ours.HTTP_X_PROBE, 'interop');
    assert.ok(theirs.HTTP_SEC_WEBSOCKET_KEY && ours.HTTP_SEC_WEBSOCKET_KEY);

    // Where they differ on purpose (docs/websocket.md): webhist speaks RFC 3875 as its other modes do.
    assert.equal(ours.GATEWAY_INTERFACE, 'CGI/1.1');
    assert.match(theirs.GATEWAY_INTERFACE!, /^websocketd-CGI\//);
    assert.equal(theirs.PATH_TRANSLATED, '/env.sh/extra', 'websocketd gives the whole URL path');
    assert.equal(ours.PATH_TRANSLATED, join(webhist.dir, 'docroot', 'extra'), 'RFC 3875 §4.1.6: PATH_INFO under the docroot');
    // websocketd sets the RFC's body variables empty; webhist leaves them out (§4.1.2: no body, no CONTENT_LENGTH).
    assert.equal(theirs.CONTENT_LENGTH, '');
    assert.equal(ours.CONTENT_LENGTH, undefined);
  });
});
