import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { compareKeys, prefixEnd } from './backend.ts';

const key = fc.string({ unit: 'binary', maxLength: 6 });
const utf8Order = (a: string, b: string) => Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b)));

describe('key order', () => {
  it('compares keys in UTF-8 byte order', () => {
    fc.assert(fc.property(key, key, (a, b) => assert.equal(Math.sign(compareKeys(a, b)), utf8Order(a, b))));
    assert.ok(compareKeys('\uFFFF', '\u{10000}') < 0);
  });

  it('ends a prefix range above exactly the keys that start with the prefix', () => {
    fc.assert(
      fc.property(key, key, key, (prefix, rest, other) => {
        const end = prefixEnd(prefix);
        for (const k of [prefix + rest, other, prefix.slice(0, -1) + other]) {
          const inRange = compareKeys(k, prefix) >= 0 && (end === undefined || compareKeys(k, end) < 0);
          assert.equal(inRange, k.startsWith(prefix), JSON.stringify([prefix, k]));
        }
      }),
    );
    assert.equal(prefixEnd('a/'), 'a0');
    assert.equal(prefixEnd(''), undefined);
    assert.equal(prefixEnd('a\u{10FFFF}'), 'b');
  });
});
