import assert from 'node:assert/strict';
import { test } from 'node:test';
import { closest, editDistance } from './suggest.ts';

test('edit distance counts insertions, deletions, substitutions and swaps as one each', () => {
  assert.equal(editDistance('count', 'count'), 0);
  assert.equal(editDistance('cont', 'count'), 1);
  assert.equal(editDistance('coutn', 'count'), 1);
  assert.equal(editDistance('cbunt', 'count'), 1);
  assert.equal(editDistance('', 'abc'), 3);
});

test('closest suggests the key a typo most likely meant', () => {
  assert.equal(closest('cont', ['name', 'count', 'tasks']), 'count');
  assert.equal(closest('taks', ['name', 'count', 'tasks']), 'tasks');
});

test('closest maps other case styles to the snake_case key', () => {
  assert.equal(closest('killTimeout', ['kill_timeout', 'env']), 'kill_timeout');
  assert.equal(closest('kill-timeout', ['kill_timeout', 'env']), 'kill_timeout');
});

test('closest suggests nothing when no key is near', () => {
  assert.equal(closest('zebra', ['name', 'count', 'tasks']), undefined);
  assert.equal(closest('x'.repeat(10_000), ['name']), undefined);
});
