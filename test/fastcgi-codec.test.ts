// The FastCGI codec, byte for byte: records, streams, bodies, name-value pairs, the parser's
// errors and the trace line. Go's net/http/fcgi fcgi_test.go cases are reproduced exactly.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FastCgiError, ProtocolStatus, RecordType, Role } from '../src/fastcgi/protocol.ts';
import {
  RecordParser,
  decodeBeginRequestBody,
  decodeEndRequestBody,
  decodeUnknownTypeBody,
  encodeBeginRequestBody,
  encodeEndRequestBody,
  encodeRecords,
  encodeUnknownTypeBody,
  record,
  streamRecords,
} from '../src/fastcgi/records.ts';
import { ParamsCollector, decodeParams, encodeParams, readPairs } from '../src/fastcgi/params.ts';
import { describeRecord, traceWriter } from '../src/fastcgi/trace.ts';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

test('name-value lengths: Go TestSize', () => {
  const cases: [number, string][] = [
    [0, '00'],
    [127, '7f'],
    [128, '80000080'],
    [1000, '800003e8'],
    [33554431, '81ffffff'],
  ];
  for (const [size, bytes] of cases) {
    // A pair whose name has that length, and an empty value: the name's length, then 00.
    const pair = encodeParams([['n'.repeat(size), '']]);
    assert.deepEqual(pair.subarray(0, bytes.length / 2 + 1), hex(`${bytes} 00`), `encode ${size}`);
    assert.equal(pair.length, bytes.length / 2 + 1 + size);
    assert.equal(decodeParams(pair, 1 << 26)[0]![0].length, size, `decode ${size}`);
  }
});

test('name-value pairs: lengths count UTF-8 bytes, not characters, on the ASCII fast path and off it', () => {
  // é is two bytes (c3 a9); a 200-character value of them is 400 bytes (80000190).
  assert.deepEqual(encodeParams({ N: 'é' }), hex('01 02 4e c3a9'));
  const long = encodeParams([
    ['A', 'é'.repeat(200)],
    ['B', 'c'],
  ]);
  assert.deepEqual(long.subarray(0, 6), hex('01 80000190 41'));
  assert.deepEqual(long.subarray(406), hex('01 01 42 63'));
  assert.deepEqual(decodeParams(long), [
    ['A', 'é'.repeat(200)],
    ['B', 'c'],
  ]);
});

test('records: Go TestStreams, single empty record and a 66000-byte stream', () => {
  assert.deepEqual(encodeRecords([record(RecordType.STDOUT, 1)]), hex('01 06 0001 0000 00 00'));
  const raw = Buffer.concat([
    hex('01 05 012c ffff 01 00'),
    Buffer.alloc(65535 + 1),
    hex('01 05 012c 01d1 07 00'),
    Buffer.alloc(465 + 7),
    hex('01 05 012c 0000 00 00'),
  ]);
  const records = streamRecords(RecordType.STDIN, 300, Buffer.alloc(66000));
  assert.deepEqual(
    records.map((r) => [r.content.length, r.paddingLength]),
    [
      [65535, 1],
      [465, 7],
      [0, 0],
    ],
  );
  assert.deepEqual(encodeRecords(records), raw);
  const parsed = [...new RecordParser().push(raw)];
  assert.deepEqual(
    parsed.map((r) => [r.type, r.requestId, r.content.length]),
    [
      [5, 300, 65535],
      [5, 300, 465],
      [5, 300, 0],
    ],
  );
  assert.deepEqual(streamRecords(RecordType.STDERR, 1, Buffer.from('x'), false).length, 1);
});

test('records: Go TestGetValues answer, exact bytes', () => {
  // Go's child answers with this record (then an empty one, which §4.1 does not ask for).
  const content = encodeParams([['FCGI_MPXS_CONNS', '1']]);
  assert.deepEqual(
    encodeRecords([record(RecordType.GET_VALUES_RESULT, 0, content)]),
    Buffer.from('\x01\n\x00\x00\x00\x12\x06\x00\x0f\x01FCGI_MPXS_CONNS1\x00\x00\x00\x00\x00\x00', 'latin1'),
  );
});

test('bodies: BEGIN_REQUEST, END_REQUEST, UNKNOWN_TYPE', () => {
  assert.deepEqual(encodeBeginRequestBody(Role.RESPONDER, 1), hex('0001 01 0000000000'));
  assert.deepEqual(decodeBeginRequestBody(hex('0002 00 0000000000')), { role: Role.AUTHORIZER, flags: 0 });
  assert.deepEqual(encodeEndRequestBody(938, ProtocolStatus.REQUEST_COMPLETE), hex('000003aa 00 000000'));
  assert.deepEqual(encodeEndRequestBody(-1, ProtocolStatus.UNKNOWN_ROLE), hex('ffffffff 03 000000'));
  assert.deepEqual(decodeEndRequestBody(hex('00000001 01 000000')), { appStatus: 1, protocolStatus: 1 });
  assert.deepEqual(encodeUnknownTypeBody(42), hex('2a 00000000000000'));
  assert.deepEqual(decodeUnknownTypeBody(hex('2a 00000000000000')), { type: 42 });
  assert.throws(() => decodeBeginRequestBody(hex('0001')), FastCgiError);
  assert.throws(() => decodeEndRequestBody(hex('')), FastCgiError);
});

test('record(): refuses what a header cannot carry', () => {
  assert.throws(() => record(RecordType.STDOUT, 1, Buffer.alloc(65536)), RangeError);
  assert.throws(() => record(RecordType.STDOUT, 65536), RangeError);
  assert.throws(() => record(RecordType.STDOUT, 1, Buffer.alloc(0), 256), RangeError);
});

test('parser: padding of any length, spec example 1 with odd padding, byte at a time', () => {
  const records = [
    record(RecordType.BEGIN_REQUEST, 1, encodeBeginRequestBody(Role.RESPONDER, 0), 0),
    record(RecordType.PARAMS, 1, Buffer.from('\x0b\x02SERVER_PORT80'), 255),
    record(RecordType.PARAMS, 1, Buffer.alloc(0), 3),
    record(RecordType.STDIN, 1),
  ];
  const bytes = encodeRecords(records);
  const parser = new RecordParser();
  const out = [...bytes].flatMap((b) => [...parser.push(Buffer.of(b))]);
  assert.deepEqual(out, records);
  parser.end();
});

test('parser: wrong version, truncation, and it stays failed', () => {
  const parser = new RecordParser();
  assert.throws(() => [...parser.push(Buffer.from('GET / HTTP/1.1\r\n'))], /fastcgi: record version 71, want 1/);
  assert.throws(() => [...parser.push(encodeRecords([record(RecordType.STDIN, 1)]))], FastCgiError);
  const cut = new RecordParser();
  assert.deepEqual([...cut.push(encodeRecords([record(RecordType.STDIN, 1, Buffer.from('abc'))]).subarray(0, 10))], []);
  assert.throws(() => cut.end(), /closed in the middle of a record/);
});

test('parser: yields the records before garbage in the same chunk, then throws', () => {
  const answer = record(RecordType.GET_VALUES_RESULT, 0, encodeParams([['WEBHIST_PID', '42']]));
  const seen: unknown[] = [];
  const chunk = Buffer.concat([encodeRecords([answer]), Buffer.from('Content-Type: text/plain\r\n\r\n')]);
  assert.throws(() => {
    for (const r of new RecordParser().push(chunk)) seen.push(r);
  }, /record version 67, want 1/);
  assert.deepEqual(seen, [answer]);
});

test('params: 1- and 4-byte lengths both ways, UTF-8, spec example bytes', () => {
  assert.deepEqual(
    encodeParams({ SERVER_PORT: '80', SERVER_ADDR: '199.170.183.42' }),
    Buffer.from('\x0b\x02SERVER_PORT80\x0b\x0eSERVER_ADDR199.170.183.42', 'latin1'),
  );
  const long = 'v'.repeat(200);
  const bytes = encodeParams([
    ['A', long],
    ['é', 'ü'],
    ['', ''],
  ]);
  assert.deepEqual(bytes.subarray(0, 6), hex('01 800000c8 41'));
  assert.deepEqual(decodeParams(bytes), [
    ['A', long],
    ['é', 'ü'],
    ['', ''],
  ]);
});

test('params: a declared 2 GB length is refused, not allocated; cut pairs are errors', () => {
  const huge = Buffer.concat([hex('01 ffffffff'), Buffer.from('A')]);
  assert.throws(() => decodeParams(huge), /over the limit of 1048576/);
  assert.throws(() => decodeParams(hex('04 02 4e414d')), /cut short/);
  assert.throws(() => decodeParams(Buffer.from([0x81])), /cut short/);
  assert.deepEqual(readPairs(hex('01 01 41 42 05 01 4e')), { pairs: [['A', 'B']], rest: 3 });
  const collector = new ParamsCollector(10);
  collector.push(Buffer.alloc(6));
  assert.throws(() => collector.push(Buffer.alloc(5)), /exceeds the limit of 10 bytes/);
});

test('describeRecord: one line with type, id, lengths and decoded content', () => {
  const begin = record(RecordType.BEGIN_REQUEST, 1, encodeBeginRequestBody(Role.RESPONDER, 1));
  assert.equal(describeRecord(begin, 'recv'), 'recv BEGIN_REQUEST id=1 content=8 padding=0 role=RESPONDER flags=KEEP_CONN');
  const params = record(RecordType.PARAMS, 1, encodeParams({ QUERY_STRING: 'a=1', HTTP_USER_AGENT: 'x y' }));
  assert.equal(describeRecord(params, 'recv'), 'recv PARAMS id=1 content=37 padding=3 QUERY_STRING=a=1 HTTP_USER_AGENT="x y"');
  const end = record(RecordType.END_REQUEST, 1, encodeEndRequestBody(0, ProtocolStatus.REQUEST_COMPLETE));
  assert.equal(describeRecord(end, 'send'), 'send END_REQUEST id=1 content=8 padding=0 appStatus=0 protocolStatus=REQUEST_COMPLETE');
  assert.equal(describeRecord(record(RecordType.STDOUT, 2), 'send'), 'send STDOUT id=2 content=0 padding=0 (end of stream)');
  assert.equal(describeRecord(record(99, 0, Buffer.from('x')), 'recv'), 'recv 99 id=0 content=1 padding=7');
  assert.match(describeRecord(record(RecordType.PARAMS, 1, hex('05 05 4142')), 'recv'), /\(\+4 bytes continued/);
});

test('traceWriter: stream bytes shown short, a long line folded under its record, a blank line after END_REQUEST', () => {
  let out = '';
  const trace = traceWriter((text) => (out += text));
  trace(record(RecordType.STDOUT, 1, Buffer.from('Content-Type: text/plain\r\n\r\nHello, world\n')), 'recv');
  trace(record(RecordType.STDIN, 1, Buffer.from('name=Ada')), 'send');
  const params = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`NAME_${i}`, `value-${i}`]));
  trace(record(RecordType.PARAMS, 1, encodeParams(params)), 'send');
  trace(record(RecordType.END_REQUEST, 1, encodeEndRequestBody(0, ProtocolStatus.REQUEST_COMPLETE)), 'recv');
  assert.equal(
    out,
    'recv STDOUT id=1 content=41 padding=7 "Content-Type: text/plain\\r\\n\\r\\nHell"…\n' +
      'send STDIN id=1 content=8 padding=0 "name=Ada"\n' +
      'send PARAMS id=1 content=184 padding=0 NAME_0=value-0 NAME_1=value-1 NAME_2=value-2 NAME_3=value-3\n' +
      '     NAME_4=value-4 NAME_5=value-5 NAME_6=value-6 NAME_7=value-7 NAME_8=value-8 NAME_9=value-9\n' +
      '     NAME_10=value-10 NAME_11=value-11\n' +
      'recv END_REQUEST id=1 content=8 padding=0 appStatus=0 protocolStatus=REQUEST_COMPLETE\n\n',
  );
});
