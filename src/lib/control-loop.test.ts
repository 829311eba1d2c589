import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ControlLoop } from './control-loop.ts';

test('pokes during a pass collapse into exactly one more pass', async () => {
  let passes = 0;
  let release: () => void = () => {};
  const loop = new ControlLoop(
    async () => {
      passes++;
      if (passes === 1) await new Promise<void>((r) => (release = r));
    },
    { intervalMs: 60_000, onError: () => assert.fail('no error expected') },
  );
  loop.start();
  await sleep(10);
  for (let i = 0; i < 5; i++) loop.poke();
  release();
  await sleep(20);
  assert.equal(passes, 2);
  await loop.stop();
});

test('a pass that throws is reported and the loop keeps running', async () => {
  const errors: unknown[] = [];
  let passes = 0;
  const loop = new ControlLoop(
    async () => {
      passes++;
      if (passes === 1) throw new Error('boom');
    },
    { intervalMs: 15, onError: (e) => errors.push(e) },
  );
  loop.start();
  await sleep(60);
  await loop.stop();
  assert.equal((errors[0] as Error).message, 'boom');
  assert.ok(passes >= 2, `the timer ran more passes (${passes})`);
});

test('nothing runs after stop', async () => {
  let passes = 0;
  const loop = new ControlLoop(async () => void passes++, { intervalMs: 5, onError: () => undefined });
  loop.start();
  await sleep(20);
  await loop.stop();
  const seen = passes;
  loop.poke();
  await sleep(30);
  assert.equal(passes, seen);
});
