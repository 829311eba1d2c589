import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '../testing/index.ts';
import { ControlLoop } from './control-loop.ts';

/** Let the pass the loop scheduled (setImmediate) run and its promise settle. */
const turn = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));

test('pokes during a pass collapse into exactly one more pass', async () => {
  let passes = 0;
  let release: () => void = () => {};
  const loop = new ControlLoop(
    async () => {
      passes++;
      if (passes === 1) await new Promise<void>((r) => (release = r));
    },
    { intervalMs: 60_000, onError: () => assert.fail('no error expected'), clock: new FakeClock() },
  );
  loop.start();
  await turn();
  for (let i = 0; i < 5; i++) loop.poke();
  release();
  await turn();
  await turn();
  assert.equal(passes, 2);
  await loop.stop();
});

test('a pass that throws is reported and the loop keeps running', async () => {
  const clock = new FakeClock();
  const errors: unknown[] = [];
  let passes = 0;
  const loop = new ControlLoop(
    async () => {
      passes++;
      if (passes === 1) throw new Error('boom');
    },
    { intervalMs: 15, onError: (e) => errors.push(e), clock },
  );
  loop.start();
  await turn();
  await clock.run(60, 15);
  await loop.stop();
  assert.equal((errors[0] as Error).message, 'boom');
  assert.ok(passes >= 2, `the timer ran more passes (${passes})`);
});

test('the timer runs a pass intervalMs after the last one, or sooner when the pass asks', async () => {
  const clock = new FakeClock();
  const at: number[] = [];
  const loop = new ControlLoop(
    async () => {
      at.push(clock.now() - t0);
      return at.length === 2 ? 300 : undefined;
    },
    { intervalMs: 1000, onError: () => assert.fail('no error expected'), clock, minDelayMs: 50 },
  );
  const t0 = clock.now();
  loop.start();
  await turn();
  await clock.run(1000, 100);
  await clock.run(300, 100);
  assert.deepEqual(at, [0, 1000, 1300]);
  await loop.stop();
  assert.equal(clock.pending, 0, 'stop cancels the timer');
});

test('nothing runs after stop', async () => {
  const clock = new FakeClock();
  let passes = 0;
  const loop = new ControlLoop(async () => void passes++, { intervalMs: 5, onError: () => undefined, clock });
  loop.start();
  await clock.run(20, 5);
  await loop.stop();
  const seen = passes;
  loop.poke();
  await clock.run(30, 5);
  assert.equal(passes, seen);
});

test('a pass that throws before its first await is reported like any other failure', async () => {
  const errors: unknown[] = [];
  const loop = new ControlLoop(
    (() => {
      throw new Error('at once');
    }) as () => Promise<void>,
    { intervalMs: 60_000, onError: (e) => errors.push(e), clock: new FakeClock() },
  );
  loop.start();
  await loop.idle;
  await loop.stop();
  assert.equal((errors[0] as Error).message, 'at once');
});
