import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { jsonErrorOffset } from './json-position.ts';

test('jsonErrorOffset finds nothing wrong in valid JSON', () => {
  fc.assert(
    fc.property(fc.jsonValue(), fc.boolean(), (value, pretty) => {
      assert.equal(jsonErrorOffset(JSON.stringify(value, null, pretty ? 2 : undefined)), undefined);
    }),
  );
});

test('jsonErrorOffset points at the first invalid character', () => {
  assert.equal(jsonErrorOffset('{"a": [}'), 7);
  assert.equal(jsonErrorOffset('{"a": 1,}'), 8);
  assert.equal(jsonErrorOffset("{'a': 1}"), 1);
  assert.equal(jsonErrorOffset('{"a" 1}'), 5);
  assert.equal(jsonErrorOffset('[1, 2'), 5);
  assert.equal(jsonErrorOffset('{} x'), 3);
  assert.equal(jsonErrorOffset('[tru]'), 1);
});

test('jsonErrorOffset agrees with JSON.parse on arbitrary text', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 30, unit: fc.constantFrom(...'{}[]":,1 truefalsn-.e\\') }), (text) => {
      let valid = true;
      try {
        JSON.parse(text);
      } catch {
        valid = false;
      }
      assert.equal(jsonErrorOffset(text) === undefined, valid, text);
    }),
    { numRuns: 2000 },
  );
});

test('jsonErrorOffset survives deep nesting', () => {
  assert.equal(jsonErrorOffset('['.repeat(1_000_000)), 1_000_000);
});
