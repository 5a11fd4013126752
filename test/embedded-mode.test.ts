/**
 * Embedded mode beyond the conformance suite, in-process over loopback: the faults a script
 * inside the server can cause (a throw, a failed import, a handler that never ends) and that the
 * server survives them; a changed file imported again; what the status page shows, memory a
 * script holds on to included; and the start-up list of scripts this mode cannot run.
 */
import assert from 'node:assert/strict';
import { utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { createEmbeddedMode, logRefusedScripts } from '../modes/embedded/index.ts';
import type { ProcessStatus } from '../src/mode.ts';
import { createLogger, type Logger } from '../src/server/log.ts';
import { eventually } from './support/http.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const mib = 1024 * 1024;

const scripts = {
  'throws.js': "export default () => { throw new Error('deliberate: thrown before any output'); };\n",
  'rejects.js': "export default async () => { await null; throw new TypeError('deliberate: rejected'); };\n",
  'broken.js': "throw new Error('deliberate: fails as it is imported');\nexport default () => {};\n",
  'stuck-import.js': 'await new Promise(() => {});\nexport default () => {};\n',
  // Module-level state that only grows, the classic mod_perl leak: 16 MiB per request, filled so
  // the pages are really touched and count in RSS.
  // Answered whole or streamed (src/run/handler-output.ts): the bytes must not depend on which.
  'later.js':
    "export default async ({ stdout }) => {\n  stdout.write('Content-Type: text/plain\\r\\n\\r\\nnow ');\n  await new Promise((resolve) => setTimeout(resolve, 20));\n  stdout.write('and later\\n');\n};\n",
  'large.js':
    "export default ({ stdout }) => {\n  stdout.write('Content-Type: text/plain\\r\\n\\r\\n');\n  for (let i = 0; i < 2000; i++) stdout.write(`${String(i).padStart(99, '.')}\\n`);\n};\n",
  'ends-then-throws.js':
    "export default ({ stdout }) => {\n  stdout.write('Content-Type: text/plain\\r\\n\\r\\npartial');\n  throw new Error('deliberate: after the head');\n};\n",
  'hold.js': `const held = [];\nexport default ({ stdout }) => {\n  held.push(Buffer.alloc(${16 * mib}, 1));\n  stdout.write(\`Content-Type: text/plain\\r\\n\\r\\nholding \${held.length * 16} MiB\\n\`);\n};\n`,
};

/** A Logger whose error lines a test can wait for: the mode's own lines (re-imports). */
function capturedLogger(): { logger: Logger; lines: string[] } {
  const err = new PassThrough();
  const lines: string[] = [];
  err.setEncoding('utf8').on('data', (text: string) => lines.push(...text.split('\n').filter(Boolean)));
  return { logger: createLogger({ format: 'clf', quiet: true, err }), lines };
}

describe('embedded mode', () => {
  let server: TestServer;
  let base: string;
  const modeLog = capturedLogger();

  before(async () => {
    server = await startTestServer(createEmbeddedMode({ logger: modeLog.logger }), scripts, { timeoutMs: 1000, revalidateMs: 0 });
    base = server.url.replace(/\/$/, '');
  });
  after(() => server.stop());

  const fetchText = async (path: string) => {
    const res = await fetch(`${base}${path}`);
    return { res, text: await res.text() };
  };
  const status = async (): Promise<ProcessStatus> => {
    const { text } = await fetchText('/webhist/status?json');
    const report = JSON.parse(text) as { mode: string; processes: ProcessStatus[] };
    assert.equal(report.mode, 'embedded');
    assert.equal(report.processes.length, 1, 'one process: no --processes in-process');
    return report.processes[0]!;
  };
  const stillServing = async () => assert.equal((await fetchText('/cgi-bin/hello.js')).text, 'Hello, world from a JavaScript handler\n');

  it('answers 500 for a handler that throws before printing, logs it with the script, and keeps serving', async () => {
    const mark = server.mark();
    for (const [script, message] of [
      ['throws.js', 'thrown before any output'],
      ['rejects.js', 'TypeError: deliberate: rejected'],
    ] as const) {
      const { res, text } = await fetchText(`/cgi-bin/${script}`);
      assert.equal(res.status, 500, script);
      assert.match(text, /failed before it printed anything/);
      await server.waitForError(new RegExp(`${script.replace('.', '\\.')}.*handler failed.*${message}`), mark);
      await stillServing();
    }
  });

  it('streams a handler still running when the event loop comes round, and one that prints more than it keeps', async () => {
    const later = await fetchText('/cgi-bin/later.js');
    assert.equal(later.res.status, 200);
    assert.equal(later.text, 'now and later\n');
    const large = await fetchText('/cgi-bin/large.js');
    assert.equal(large.res.status, 200);
    const lines = large.text.split('\n');
    assert.equal(lines.length, 2001);
    assert.equal(lines[1999], `${'.'.repeat(95)}1999`);
    await stillServing();
  });

  it('cuts the response of a handler that throws after its head, whole or not', async () => {
    const mark = server.mark();
    await assert.rejects(fetchText('/cgi-bin/ends-then-throws.js'));
    await server.waitForError(/ends-then-throws\.js.*after its response began/, mark);
    await stillServing();
  });

  it('answers 500 for a module that cannot be imported, and says why', async () => {
    const mark = server.mark();
    assert.equal((await fetchText('/cgi-bin/broken.js')).res.status, 500);
    await server.waitForError(/broken\.js.*cannot be imported.*fails as it is imported/, mark);
    await stillServing();
  });

  it('refuses a plain CGI program, naming it and saying why', async () => {
    const mark = server.mark();
    assert.equal((await fetchText('/cgi-bin/hello.sh')).res.status, 500);
    await server.waitForError(/hello\.sh.*plain CGI program/, mark);
  });

  it('answers 504 for a handler that never finishes, and counts it abandoned: a promise cannot be killed', async () => {
    const mark = server.mark();
    assert.equal((await fetchText('/cgi-bin/hang.js')).res.status, 504);
    await server.waitForError(/hang\.js.*timed out.*abandoned/, mark);
    assert.ok((await status()).abandoned >= 1);
    await stillServing();
  });

  it('answers 504 for a module whose import never finishes', async () => {
    const mark = server.mark();
    assert.equal((await fetchText('/cgi-bin/stuck-import.js')).res.status, 504);
    await server.waitForError(/stuck-import\.js.*timed out.*still being imported/, mark);
    await stillServing();
  });

  it('imports a script again when its file changes, and logs it', async () => {
    const file = join(server.cgiBin, 'version.js');
    const version = (v: string) => `export default ({ stdout }) => stdout.write('Content-Type: text/plain\\r\\n\\r\\n${v}\\n');\n`;
    await writeFile(file, version('first'));
    assert.equal((await fetchText('/cgi-bin/version.js')).text, 'first\n');
    assert.equal((await fetchText('/cgi-bin/version.js')).text, 'first\n');
    const importsBefore = (await status()).imports;
    assert.equal(modeLog.lines.filter((l) => l.includes('version.js')).length, 0, 'the first import is not a re-import');

    await writeFile(file, version('second'));
    // A distinct mtime, whatever the file system's timestamp granularity.
    const later = new Date(Date.now() + 10_000);
    await utimes(file, later, later);
    // The server may trust what it last read of the disk for a while (--revalidate): ask until it looks again.
    await eventually(async () => (await fetchText('/cgi-bin/version.js')).text === 'second\n', 10_000, 'the new version served');
    assert.equal((await fetchText('/cgi-bin/version.js')).text, 'second\n');
    assert.equal(modeLog.lines.filter((l) => /version\.js.*changed on disk.*old version stays in memory/.test(l)).length, 1);
    assert.equal((await status()).imports, importsBefore + 1, 'imported once more, and only once');
  });

  it('keeps module-level state across requests, and the memory it holds shows on the status page', async () => {
    const first = await status();
    assert.equal(first.pid, process.pid, 'the script runs in the server process');
    for (let i = 1; i <= 4; i++) assert.equal((await fetchText('/cgi-bin/hold.js')).text, `holding ${i * 16} MiB\n`);
    const now = await status();
    assert.ok(now.served >= first.served + 4);
    assert.ok(now.rssBytes - first.rssBytes >= 32 * mib, `RSS grew by ${((now.rssBytes - first.rssBytes) / mib).toFixed(1)} MiB while 64 MiB are held`);
    assert.equal(typeof now.heapUsedBytes, 'number');
    assert.deepEqual([now.state, now.scripts], ['idle', []], 'nothing in flight between requests');
  });

  it('lists at start-up the scripts of cgi-bin it cannot run', async () => {
    const { logger, lines } = capturedLogger();
    await logRefusedScripts(server.cgiBin, logger);
    await eventually(() => lines.length > 0, 5000, 'the list was logged');
    const listed = lines[0]!.split(': ').at(-1)!.split(', ');
    for (const program of ['hello.sh', 'hello.pl', 'hello.py', 'hello-plain.js', 'hello.php']) assert.ok(listed.includes(program), program);
    for (const handler of ['hello.js', 'block.js', 'counter.js']) assert.ok(!listed.includes(handler), handler);
    assert.ok(!listed.includes('hello.c'), 'what no mode can run is not listed');
  });
});
