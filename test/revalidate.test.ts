// src/server/revalidate.ts: a lookup remembered for --revalidate, its answer given at once once known.
import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { test } from 'node:test';
import { revalidateEvery } from '../src/server/revalidate.ts';

test('the first ask waits on the lookup; once it has answered, the answer comes without a promise', async () => {
  let lookups = 0;
  const find = revalidateEvery(60_000, async (key: string) => {
    lookups++;
    return `found ${key}`;
  });
  const first = find('/a');
  assert.ok(first instanceof Promise);
  assert.equal(await first, 'found /a');
  await nextTurn();
  assert.equal(find('/a'), 'found /a');
  assert.equal(lookups, 1);
});

test('a failed lookup is not remembered: the next ask looks again', async () => {
  let fail = true;
  const find = revalidateEvery(60_000, async () => {
    if (fail) throw new Error('no such file');
    return 'there now';
  });
  await assert.rejects(Promise.resolve(find('/b')), /no such file/);
  fail = false;
  assert.equal(await find('/b'), 'there now');
});

test('an old lookup that fails late does not forget the newer answer for the same key', async (t) => {
  let now = 0;
  t.mock.method(performance, 'now', () => now);
  const answers: Array<{ resolve: (value: string) => void; reject: (error: Error) => void }> = [];
  const find = revalidateEvery(1000, () => new Promise<string>((resolve, reject) => answers.push({ resolve, reject })));
  const old = find('/c');
  now = 1500; // the first is out of date: this ask looks again, while the first is still in flight
  const newer = find('/c');
  answers[1]!.resolve('newer');
  assert.equal(await newer, 'newer');
  answers[0]!.reject(new Error('old'));
  await assert.rejects(Promise.resolve(old));
  await nextTurn();
  now = 2000; // within the newer answer's time
  assert.equal(find('/c'), 'newer');
  assert.equal(answers.length, 2, 'no third lookup');
});
