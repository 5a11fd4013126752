import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clfTime, formatAccess, type AccessEntry } from '../src/server/log.ts';

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
  ['combined', entry, 'combined', '127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"'],
  ['unknown size', { ...entry, bytes: undefined }, 'clf', '127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "GET /apache_pb.gif HTTP/1.0" 200 -'],
  ['no referer or agent', { ...entry, referer: undefined, userAgent: undefined }, 'combined', '127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "GET /apache_pb.gif HTTP/1.0" 200 2326 "-" "-"'],
  ['a forged line cannot break out', { ...entry, target: '/x" 200 0\n1.2.3.4 - - "GET /' }, 'clf', '127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "GET /x\\" 200 0\\x0a1.2.3.4 - - \\"GET / HTTP/1.0" 200 2326'],
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
});
