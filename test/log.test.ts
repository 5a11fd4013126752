import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, it, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { packageRoot } from '../src/package-root.ts';
import { clfTime, createLogger, formatAccess, type AccessEntry } from '../src/server/log.ts';
import { eventually } from './support/http.ts';

const entry: AccessEntry = {
  remoteAddress: '127.0.0.1',
  time: new Date(Date.UTC(2000, 9, 10, 13, 55, 36)),
  method: 'GET',
  target: '/apache_pb.gif',
  protocol: 'HTTP/1.0',
  status: 200,
  bytes: 2326,
  referer: 'http://www.example.com/start.html',
  userAgent: 'Mozilla/4.08 [en] (Win98; I ;Nav)',
  durationMs: 3,
};

// The examples from Apache's log documentation, in UTC.
const cases: Array<[string, AccessEntry, 'clf' | 'combined', string]> = [
  ['common', entry, 'clf', '127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "GET /apache_pb.gif HTTP/1.0" 200 2326'],
  [
    'combined',
    entry,
    'combined',
    '127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"',
  ],
  ['unknown size', { ...entry, bytes: undefined }, 'clf', '127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "GET /apache_pb.gif HTTP/1.0" 200 -'],
  [
    'no referer or agent',
    { ...entry, referer: undefined, userAgent: undefined },
    'combined',
    '127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "GET /apache_pb.gif HTTP/1.0" 200 2326 "-" "-"',
  ],
  [
    'a forged line cannot break out',
    { ...entry, target: '/x" 200 0\n1.2.3.4 - - "GET /' },
    'clf',
    '127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "GET /x\\" 200 0\\x0a1.2.3.4 - - \\"GET / HTTP/1.0" 200 2326',
  ],
];

for (const [name, input, format, expected] of cases) {
  test(`access log, ${name}`, () => assert.equal(formatAccess(input, format), expected));
}

test('access log as JSON, one object per line', () => {
  const line = formatAccess(entry, 'json');
  assert.ok(!line.includes('\n'));
  assert.deepEqual(JSON.parse(line), { ...entry, time: '2000-10-10T13:55:36.000Z' });
});

test('CLF time pads every field', () => {
  assert.equal(clfTime(new Date(Date.UTC(2026, 0, 2, 3, 4, 5))), '02/Jan/2026:03:04:05 +0000');
  // Remembered per second: the next second is not the last one's text.
  assert.equal(clfTime(new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 999))), '02/Jan/2026:03:04:05 +0000');
  assert.equal(clfTime(new Date(Date.UTC(2026, 0, 2, 3, 4, 6))), '02/Jan/2026:03:04:06 +0000');
});

// The buffered access log (nginx's buffer= flush=): held, then written in one piece; never lost on a clean exit.
describe('the buffered access log', () => {
  const sink = () => {
    const writes: string[] = [];
    const out: Writable = new Writable({ write: (chunk: Buffer, _encoding, callback) => (writes.push(chunk.toString()), callback()) });
    return { out, writes };
  };

  it('holds lines until flushed, then writes them in one write, in order', () => {
    const { out, writes } = sink();
    const logger = createLogger({ format: 'clf', out, buffer: { bytes: 1 << 20, flushMs: 60_000 } });
    for (const target of ['/a', '/b', '/c']) logger.access({ ...entry, target });
    assert.deepEqual(writes, []);
    logger.flush();
    assert.equal(writes.length, 1);
    assert.deepEqual(
      String(writes[0])
        .split('\n')
        .map((line: string) => /"GET (\S+)/.exec(line)?.[1]),
      ['/a', '/b', '/c', undefined],
    );
    logger.flush();
    assert.equal(writes.length, 1, 'nothing held, nothing written');
  });

  it('writes once the buffer size is reached', () => {
    const { out, writes } = sink();
    const line = `${formatAccess(entry, 'clf')}\n`;
    const logger = createLogger({ format: 'clf', out, buffer: { bytes: line.length * 3, flushMs: 60_000 } });
    logger.access(entry);
    logger.access(entry);
    assert.deepEqual(writes, []);
    logger.access(entry);
    assert.deepEqual(writes, [line.repeat(3)]);
  });

  it('writes what it holds after flushMs', async () => {
    const { out, writes } = sink();
    const logger = createLogger({ format: 'clf', out, buffer: { bytes: 1 << 20, flushMs: 10 } });
    logger.access(entry);
    await eventually(() => writes.length > 0, 5000, 'the timed flush');
    assert.deepEqual(writes, [`${formatAccess(entry, 'clf')}\n`]);
  });

  it('writes what it holds when the process exits', () => {
    const logModule = pathToFileURL(join(packageRoot, 'src/server/log.ts')).href;
    const program = `
      import { createLogger } from ${JSON.stringify(logModule)};
      const logger = createLogger({ format: 'clf', buffer: { bytes: 1 << 20, flushMs: 60_000 } });
      for (let i = 0; i < 5000; i++) logger.access({ ...${JSON.stringify(entry)}, time: new Date(0), target: '/' + i });
      process.exit(0);`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', program], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(child.status, 0, child.stderr);
    const lines = child.stdout.split('\n').filter(Boolean);
    assert.equal(lines.length, 5000);
    assert.match(lines[4999]!, /"GET \/4999 HTTP\/1\.0"/);
  });
});
