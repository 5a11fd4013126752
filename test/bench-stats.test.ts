/**
 * The bench's arithmetic with exact expectations: medians and ranges across runs, the
 * least-squares line of the size sweep, and the number formats the reports print.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ms, ranged, rate } from '../bench/harness/format.ts';
import { fitLine } from '../bench/harness/linefit.ts';
import { median, spread } from '../bench/harness/stats.ts';

describe('median and spread', () => {
  it('takes the middle value, or the mean of the middle two', () => {
    assert.equal(median([3]), 3);
    assert.equal(median([5, 1, 3]), 3);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.equal(median([10, 10, 1000]), 10, 'one outlier run does not move it');
  });

  it('refuses an empty list', () => {
    assert.throws(() => median([]), /median of no values/);
  });

  it('gives median, min and max of the values measured, ignoring the unmeasured', () => {
    assert.deepEqual(spread([120, 100, null, 110, undefined]), { median: 110, min: 100, max: 120 });
    assert.equal(spread([null, undefined]), undefined);
    assert.equal(spread([]), undefined);
  });
});

describe('fitLine', () => {
  it('recovers an exact line: the 1996 CGI row, 59 ms + 0.37 ms/KB', () => {
    const points = [0, 10, 100].map((x) => ({ x, y: 59 + 0.37 * x }));
    const line = fitLine(points)!;
    assert.ok(Math.abs(line.fixed - 59) < 1e-9);
    assert.ok(Math.abs(line.slope - 0.37) < 1e-12);
    assert.equal(line.r2, 1);
  });

  it('fits least squares through scattered points', () => {
    // By hand: means 1.5 and 2.5; sxx = 5, sxy = 4, syy = 5; slope 4/5, fixed 2.5 - 0.8 × 1.5, r² = 16/25.
    const line = fitLine([
      { x: 0, y: 1 },
      { x: 1, y: 3 },
      { x: 2, y: 2 },
      { x: 3, y: 4 },
    ])!;
    assert.ok(Math.abs(line.slope - 0.8) < 1e-12);
    assert.ok(Math.abs(line.fixed - 1.3) < 1e-12);
    assert.ok(Math.abs(line.r2 - 0.64) < 1e-12);
  });

  it('has no line for fewer than two distinct sizes', () => {
    assert.equal(fitLine([]), undefined);
    assert.equal(fitLine([{ x: 10, y: 1 }]), undefined);
    assert.equal(
      fitLine([
        { x: 10, y: 1 },
        { x: 10, y: 2 },
      ]),
      undefined,
    );
  });
});

describe('formats', () => {
  it('prints times to three significant figures and rates with separators', () => {
    assert.deepEqual([0.4761, 5.4, 56.44, 421.2].map(ms), ['0.476', '5.40', '56.4', '421']);
    assert.deepEqual([14.94, 812.4, 9801.2].map(rate), ['14.9', '812', '9,801']);
  });

  it('gives the range only when runs differ', () => {
    assert.equal(ranged({ median: 812, min: 790, max: 830 }, rate), '812 (790–830)');
    assert.equal(ranged({ median: 812, min: 812.2, max: 811.9 }, rate), '812');
    assert.equal(
      ranged({ median: 0.5, min: 0.4, max: 0.6 }, (v) => v.toFixed(1), '×'),
      '0.5× (0.4–0.6)',
    );
  });
});
