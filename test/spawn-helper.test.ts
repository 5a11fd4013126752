/**
 * The spawn helper (src/run/spawn-helper.c and .ts): its frame in exact bytes, wait statuses in
 * words, and what happens when it, or the server above it, dies. Everything a client sees of
 * it is also checked by the conformance suite, which runs CGI mode both with and without it.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { constants, tmpdir } from 'node:os';
import { execa } from 'execa';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { launch, stop } from '../bench/process/launch.ts';
import { createCgiMode } from '../modes/cgi/index.ts';
import { createProgramLauncher } from '../src/run/launcher.ts';
import { encodeFrame, exitOf, spawnHelperBinary } from '../src/run/spawn-helper.ts';
import { eventually, isAlive, rawRequest } from './support/http.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const built = await readFile(spawnHelperBinary).then(
  () => true,
  () => false,
);
const skip = built ? false : `the spawn helper is not built (${spawnHelperBinary}): apt-get install gcc libc6-dev, then npm install`;
if (skip) console.warn(`SKIPPING the spawn helper's tests: ${skip}`);

describe('the spawn helper frame', () => {
  it('is a little-endian length, then NUL-ended id, cwd, body flag, argc, argv, env', () => {
    const frame = encodeFrame({ id: '7', cwd: '/c', withBody: true, argv: ['sh', 'x'], env: { A: '1' } });
    const strings = '7\0/c\x001\x002\0sh\0x\0A=1\0';
    assert.deepEqual(frame, Buffer.concat([Buffer.from([strings.length, 0, 0, 0]), Buffer.from(strings, 'latin1')]));
  });

  it('counts bytes, not characters, for UTF-8 values', () => {
    const frame = encodeFrame({ id: '0', cwd: '/', withBody: false, argv: ['a'], env: { N: 'É' } });
    assert.equal(frame.readUInt32LE(0), frame.length - 4);
    assert.equal(frame.subarray(4).toString('utf8'), '0\0/\x000\x001\0a\0N=É\0');
  });
});

describe('the spawn helper frame, bytes from the wire', () => {
  it("carries a header's bytes as they came (latin-1 in, latin-1 out), paths as UTF-8", () => {
    const frame = encodeFrame({ id: '1', cwd: '/caf\u00e9', withBody: false, argv: ['a'], env: { HTTP_X_NAME: 'caf\u00e9' } });
    const expected = Buffer.concat([Buffer.from('1\0/caf\u00e9\x000\x001\0a\0', 'utf8'), Buffer.from('HTTP_X_NAME=caf\xe9\0', 'latin1')]);
    assert.equal(frame.readUInt32LE(0), expected.length);
    assert.deepEqual(frame.subarray(4), expected);
  });
});

describe('wait statuses, as spawnProgram words them', () => {
  for (const [status, exit] of [
    [0, { ok: true }],
    [1 << 8, { ok: false, reason: 'exited with status 1' }],
    [127 << 8, { ok: false, reason: 'exited with status 127' }],
    [9, { ok: false, reason: 'killed by SIGKILL' }],
    [15 | 0x80, { ok: false, reason: 'killed by SIGTERM' }], // 0x80: it dumped core
  ] as const) {
    it(`${status} → ${JSON.stringify(exit)}`, () => assert.deepEqual(exitOf(status), exit));
  }
});

describe('CGI mode when the spawn helper cannot run', { skip }, () => {
  it('forks from the server instead, and says why', async () => {
    const launcher = await createProgramLauncher('helper', () => {}, '/nonexistent/webhist-spawn-helper');
    assert.equal(launcher.helperPid, undefined);
    assert.match(launcher.how, /forked from the server, as the spawn helper cannot run: .*not built/);
    await launcher.close();
  });
});

describe('CGI mode when its spawn helper dies', { skip }, () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer(({ logger }) => createCgiMode({ say: (message) => logger.error('warn', 'cgi', message) }));
  });
  after(() => server.stop());

  const helperPid = async (): Promise<number | null> => (await (await fetch(`${server.url}webhist/status?json`)).json()).spawnHelper;

  it('serves every request meanwhile, and replaces the helper', async () => {
    const first = await helperPid();
    assert.ok(first, 'a helper at start-up');
    const mark = server.mark();
    process.kill(first, 'SIGKILL');
    await server.waitForError(/the spawn helper died/, mark);
    // Until the new helper is up, programs are forked from the server: nothing is refused.
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${server.url}cgi-bin/hello.sh`);
      assert.equal(res.status, 200);
      assert.equal(await res.text(), 'Hello, world from sh\n');
    }
    let second: number | null = null;
    await eventually(
      async () => {
        second = await helperPid();
        return second !== null && second !== first;
      },
      10_000,
      'a new spawn helper',
    );
    assert.equal((await fetch(`${server.url}cgi-bin/hello.sh`)).status, 200);
  });
});

describe('a CGI server killed with SIGKILL', { skip }, () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'webhist-helper-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('takes its running scripts with it: the helper sees its stdin end and kills their groups', async () => {
    await writeFile(join(dir, 'stay.sh'), `echo $$ > ${dir}/stay.pid\nprintf 'Content-Type: text/plain\\r\\n\\r\\nstaying\\n'\nsleep 300\n`, { mode: 0o755 });
    const server = launch('webhist', process.execPath, ['bin/webhist.js', 'serve', '--mode', 'cgi', '--port', '0', '--cgi-bin', dir, '--docroot', dir]);
    try {
      const [, url] = await server.waitFor(/on (http:\/\/\S+)/);
      const res = await fetch(`${url}cgi-bin/stay.sh`);
      assert.equal(res.status, 200);
      const reader = res.body!.getReader();
      await reader.read(); // the script is running, and holding its response open
      const pid = Number(await readFile(join(dir, 'stay.pid'), 'utf8'));
      assert.ok(isAlive(pid));
      process.kill(server.pid, 'SIGKILL');
      await eventually(() => !isAlive(pid), 10_000, `script ${pid} gone with its server`);
      await reader.cancel().catch(() => {});
    } finally {
      await stop([server]);
    }
  });

  it('gives the helper nothing of its environment but PATH', async () => {
    const server = launch('webhist', process.execPath, ['bin/webhist.js', 'serve', '--mode', 'cgi', '--port', '0', '--cgi-bin', dir, '--docroot', dir], {
      env: { PATH: process.env.PATH ?? '', WEBHIST_TEST_SECRET: 'do-not-leak' },
    });
    try {
      const [, url] = await server.waitFor(/on (http:\/\/\S+)/);
      const { spawnHelper } = await (await fetch(`${url}webhist/status?json`)).json();
      const environ = await readFile(`/proc/${spawnHelper}/environ`, 'latin1');
      assert.deepEqual(
        environ
          .split('\0')
          .filter(Boolean)
          .map((entry) => entry.split('=')[0]),
        ['PATH'],
      );
    } finally {
      await stop([server]);
    }
  });
});

describe('the spawn helper at its own descriptor limit', { skip }, () => {
  it('accepts the connection it has no descriptor for, and reports that start as failed with EMFILE', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'webhist-helper-'));
    const socketPath = join(dir, 'helper.sock');
    const helper = execa(spawnHelperBinary, [socketPath], { stdin: 'pipe', buffer: false, reject: false, env: { PATH: '/usr/bin:/bin' }, extendEnv: false });
    let reports = '';
    helper.stdout.on('data', (chunk: Buffer) => (reports += chunk.toString('latin1')));
    try {
      await eventually(() => reports.includes('READY\n'), 5000, 'the helper to be ready');
      // Its limit lowered (util-linux's prlimit) to its lowest free descriptor number: every
      // number below is taken, so the next connection's accept() fails with EMFILE.
      const held = new Set(readdirSync(`/proc/${helper.pid}/fd`).map(Number));
      let limit = 0;
      while (held.has(limit)) limit++;
      await execa('prlimit', [`--pid=${helper.pid}`, `--nofile=${limit}:${limit}`]);
      const socket = connect(socketPath);
      socket.on('error', () => {});
      socket.end(encodeFrame({ id: '42', cwd: '/', withBody: false, argv: ['true'], env: { PATH: '/usr/bin:/bin' } }));
      await eventually(() => /^F 42 \d+$/m.test(reports), 5000, "the helper's report on request 42");
      assert.match(reports, new RegExp(`^F 42 ${constants.errno.EMFILE}$`, 'm'));
      // And it goes on: the helper is alive, not spinning on a listener it cannot accept from.
      assert.equal(helper.exitCode, null);
    } finally {
      helper.kill('SIGKILL');
      await helper;
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('a program whose child left its process group', { skip }, () => {
  // Issue #15, defect 7: the escapee (setsid) holds the program's stdout and stderr. The request
  // ends on the program's exit all the same, and the helper keeps nothing of it open.
  it("ends its request at the program's exit, and the helper closes the program's pipes", async () => {
    const mode = await createCgiMode({ spawn: 'helper' });
    const server = await startTestServer(mode, {
      'escape.sh': 'setsid sleep 30 &\necho $! > "$TMP/escapee.pid"\nprintf \'Content-Type: text/plain\\r\\n\\r\\nok\\n\'\n',
    });
    const helper = mode.status?.().spawnHelper as number;
    const descriptors = () => readdirSync(`/proc/${helper}/fd`).length;
    const before = descriptors();
    try {
      const res = await fetch(`${server.url}cgi-bin/escape.sh`);
      assert.equal(await res.text(), 'ok\n');
      const escapee = Number(await readFile(join(server.dir, 'escapee.pid'), 'utf8'));
      assert.ok(isAlive(escapee), 'the escapee is still running, holding the pipes');
      await eventually(() => descriptors() === before, 5000, `the helper back to ${before} descriptors (it has ${descriptors()})`);
    } finally {
      const escapee = Number(await readFile(join(server.dir, 'escapee.pid'), 'utf8').catch(() => '0'));
      if (escapee > 0 && isAlive(escapee)) process.kill(escapee, 'SIGKILL');
      await server.stop();
    }
  });
});

describe('a program given a request body, answering a slow client', { skip }, () => {
  // The helper reads the body from the connection that is also the program's stdout. Had it
  // made that connection non-blocking (a flag of the open file, shared with the program), the
  // program's writes would fail with EAGAIN once the client fell behind: "echo: I/O error", and
  // a response cut short.
  it('delivers all of a large response: its stdout still blocks as a program expects', async () => {
    const line = 'x'.repeat(499);
    const server = await startTestServer(await createCgiMode({ spawn: 'helper' }), {
      'big.sh': `cat > /dev/null\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\ni=0\nwhile [ $i -lt 4000 ]; do echo ${line}; i=$((i+1)); done\necho end\n`,
    });
    try {
      const request = 'POST /cgi-bin/big.sh HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello';
      const response = await rawRequest(Number(new URL(server.url).port), request, 15_000, 1000);
      assert.equal(response.status, 200);
      assert.ok(response.complete, 'the response ends with its last chunk');
      assert.equal(response.body.toString('latin1'), `${`${line}\n`.repeat(4000)}end\n`);
    } finally {
      await server.stop();
    }
  });
});
