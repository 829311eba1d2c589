import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from './fake-clock.ts';

test('advance fires due timers in time order, ties in the order they were set, and moves now along', () => {
  const clock = new FakeClock(1_000);
  const fired: string[] = [];
  clock.setTimer(() => fired.push(`b@${clock.now()}`), 20);
  clock.setTimer(() => fired.push(`a@${clock.now()}`), 10);
  clock.setTimer(() => fired.push(`c@${clock.now()}`), 20);
  const cancelled = clock.setTimer(() => fired.push('never'), 15);
  cancelled.cancel();
  clock.advance(19);
  assert.deepEqual(fired, ['a@1010']);
  assert.equal(clock.now(), 1_019);
  clock.advance(1);
  assert.deepEqual(fired, ['a@1010', 'b@1020', 'c@1020']);
  assert.equal(clock.pending, 0);
});

test('a timer set while firing fires in the same advance when it falls due within it', () => {
  const clock = new FakeClock(0);
  const fired: number[] = [];
  clock.setTimer(() => {
    fired.push(clock.now());
    clock.setTimer(() => fired.push(clock.now()), 5);
  }, 5);
  clock.advance(10);
  assert.deepEqual(fired, [5, 10]);
});

test('sleep resolves when time is advanced past it, and rejects with the reason when aborted', async () => {
  const clock = new FakeClock(0);
  let woke = false;
  const sleeping = clock.sleep(100).then(() => (woke = true));
  clock.advance(99);
  await Promise.resolve();
  assert.equal(woke, false);
  clock.advance(1);
  await sleeping;
  assert.equal(woke, true);
  const abort = new AbortController();
  const aborted = clock.sleep(100, abort.signal);
  abort.abort(new Error('stopped'));
  await assert.rejects(aborted, /stopped/);
  assert.equal(clock.pending, 0, 'an aborted sleep leaves no timer behind');
  clock.advanceTo(500);
  assert.equal(clock.now(), 500);
});
