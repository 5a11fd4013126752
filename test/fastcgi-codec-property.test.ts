// Properties of the FastCGI codec, checked with fast-check: whatever the records and however
// the bytes are cut, encode → parse gives them back; random or truncated bytes only ever
// raise FastCgiError, and nothing decoded is larger than what came in.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { FastCgiError, RecordType } from '../src/fastcgi/protocol.ts';
import { RecordParser, encodeRecords, record, streamRecords, type FcgiRecord } from '../src/fastcgi/records.ts';
import { ParamsCollector, decodeParams, encodeParams } from '../src/fastcgi/params.ts';

const limits = { timeout: 120_000 }; // a hang fails the test instead of stalling the suite

/** Cuts `bytes` at the given fractions: every chunking from one piece to single bytes. */
function chunk(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => Math.floor(c * bytes.length)))].sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let from = 0;
  for (const p of [...points, bytes.length]) {
    pieces.push(bytes.subarray(from, p));
    from = p;
  }
  return pieces;
}

function parseAll(pieces: Buffer[]): FcgiRecord[] {
  const parser = new RecordParser();
  const records = pieces.flatMap((p) => [...parser.push(p)]);
  parser.end();
  return records;
}

const cuts = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 40 });
const bytes = (maxLength: number) => fc.uint8Array({ maxLength }).map((a) => Buffer.from(a));

const anyRecord = fc
  .record({
    type: fc.integer({ min: 0, max: 255 }),
    requestId: fc.integer({ min: 0, max: 0xffff }),
    content: fc.oneof(bytes(64), bytes(2000), fc.constant(Buffer.alloc(65535, 7))),
    padding: fc.integer({ min: 0, max: 255 }),
  })
  .map((r) => record(r.type, r.requestId, r.content, r.padding));

test('every record list round-trips through encode → parse, however it is cut', limits, () => {
  fc.assert(
    fc.property(fc.array(anyRecord, { maxLength: 8 }), cuts, (records, at) => {
      assert.deepEqual(parseAll(chunk(encodeRecords(records), at)), records);
    }),
  );
});

test('every stream round-trips: 65535-byte records, then the empty one', limits, () => {
  fc.assert(
    fc.property(
      fc.oneof(
        bytes(100),
        fc.nat({ max: 200_000 }).map((n) => Buffer.alloc(n, n)),
      ),
      cuts,
      (data, at) => {
        const parsed = parseAll(chunk(encodeRecords(streamRecords(RecordType.STDIN, 1, data)), at));
        assert.deepEqual(Buffer.concat(parsed.map((r) => r.content)), data);
        assert.equal(parsed.at(-1)!.content.length, 0);
        assert.ok(parsed.slice(0, -1).every((r) => r.content.length > 0 && r.content.length <= 65535));
      },
    ),
    { numRuns: 50 },
  );
});

const text = fc.oneof(fc.string({ unit: 'grapheme', maxLength: 20 }), fc.string({ minLength: 120, maxLength: 400 }));

test('every name-value list round-trips through a PARAMS stream', limits, () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(text, text), { maxLength: 30 }), cuts, (pairs, at) => {
      const stream = encodeRecords(streamRecords(RecordType.PARAMS, 1, encodeParams(pairs)));
      const collector = new ParamsCollector();
      for (const r of parseAll(chunk(stream, at))) if (r.content.length > 0) collector.push(r.content);
      assert.deepEqual(collector.end(), pairs);
    }),
  );
});

/** Runs `fn`; anything it throws must be a FastCgiError. */
function onlyFastCgiErrors(fn: () => void): void {
  try {
    fn();
  } catch (error) {
    if (!(error instanceof FastCgiError)) throw error;
  }
}

test('random bytes: the parser raises only FastCgiError and never emits more than it got', limits, () => {
  // Half the inputs start with a valid version byte, so headers get past the first check.
  const input = fc.oneof(
    bytes(300),
    bytes(300).map((b) => Buffer.concat([Buffer.of(1), b])),
  );
  fc.assert(
    fc.property(input, cuts, (data, at) => {
      const parser = new RecordParser();
      let emitted = 0;
      onlyFastCgiErrors(() => {
        for (const piece of chunk(data, at)) for (const r of parser.push(piece)) emitted += 8 + r.content.length;
        parser.end();
      });
      assert.ok(emitted <= data.length);
    }),
    { numRuns: 2000 },
  );
});

test('random bytes: name-value decoding raises only FastCgiError and never amplifies', limits, () => {
  const input = fc.oneof(
    bytes(64),
    // a 4-byte length near 2^31 followed by a little data: must be refused, not allocated
    fc.tuple(fc.integer({ min: 0x80000000, max: 0xffffffff }), bytes(16)).map(([n, rest]) => {
      const head = Buffer.alloc(5);
      head[0] = 1;
      head.writeUInt32BE(n, 1);
      return Buffer.concat([head, rest]);
    }),
  );
  fc.assert(
    fc.property(input, (data) => {
      onlyFastCgiErrors(() => {
        const pairs = decodeParams(data);
        // UTF-16 code units: a byte decodes to at most one, even an invalid one (U+FFFD)
        const size = pairs.reduce((n, [k, v]) => n + k.length + v.length, 0);
        assert.ok(size <= data.length);
      });
    }),
    { numRuns: 2000 },
  );
});

test('truncated bytes: a prefix of the records, and end() says the stream was cut', limits, () => {
  fc.assert(
    fc.property(fc.array(anyRecord, { minLength: 1, maxLength: 5 }), fc.double({ min: 0, max: 1, noNaN: true }), (records, f) => {
      const whole = encodeRecords(records);
      const cut = Math.floor(f * whole.length);
      const parser = new RecordParser();
      const parsed = [...parser.push(whole.subarray(0, cut))];
      assert.deepEqual(parsed, records.slice(0, parsed.length));
      const boundary = encodeRecords(parsed).length === cut;
      if (boundary) parser.end();
      else assert.throws(() => parser.end(), FastCgiError);
    }),
  );
});
