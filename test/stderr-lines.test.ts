/**
 * The stderr rule every mode keeps (src/script/stderr-lines.ts): the same lines however the bytes are
 * chunked, CR dropped before LF, long lines cut at MAX_LINE.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { LineSplitter, MAX_LINE } from '../src/script/stderr-lines.ts';

function split(chunks: Buffer[]): string[] {
  const lines: string[] = [];
  const splitter = new LineSplitter((line) => lines.push(line));
  for (const chunk of chunks) splitter.push(chunk);
  splitter.end();
  return lines;
}

const x = (n: number) => 'x'.repeat(n);

const cases: Array<[input: string, lines: string[]]> = [
  ['one\ntwo\n', ['one', 'two']],
  ['crlf\r\nlast', ['crlf', 'last']],
  ['last with cr\r', ['last with cr']],
  [`${x(MAX_LINE)}\n`, [x(MAX_LINE)]],
  [`${x(MAX_LINE)}\r\n`, [x(MAX_LINE)]],
  [`${x(5000)}\nafter\n`, [x(MAX_LINE), x(5000 - MAX_LINE), 'after']],
  [`${x(2 * MAX_LINE + 1)}`, [x(MAX_LINE), x(MAX_LINE), 'x']],
  ['é\n', ['é']],
];

for (const [input, lines] of cases) {
  test(`${JSON.stringify(input.length > 40 ? `${input.slice(0, 20)}…(${input.length})` : input)} is ${lines.length} line(s), whole or a byte at a time`, () => {
    const bytes = Buffer.from(input);
    assert.deepEqual(split([bytes]), lines);
    assert.deepEqual(split([...bytes].map((b) => Buffer.from([b]))), lines);
  });
}

test('the lines do not depend on how the bytes were chunked', () => {
  const text = fc.stringMatching(/^[a\r\né]{0,60}$/).map((s) => s.replaceAll('a', x(1500)));
  fc.assert(
    fc.property(text, fc.array(fc.nat(), { maxLength: 8 }), (input, cuts) => {
      const bytes = Buffer.from(input);
      const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
      const chunks = [0, ...points, bytes.length].slice(1).map((end, i, ends) => bytes.subarray(i === 0 ? 0 : ends[i - 1], end));
      assert.deepEqual(split(chunks), split([bytes]));
    }),
  );
});
