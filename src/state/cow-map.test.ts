import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CowMap } from './cow-map.ts';

type Step = { op: 'set'; key: string; value: number } | { op: 'delete'; key: string } | { op: 'fork' };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ op: fc.constant('set' as const), key: fc.string({ maxLength: 3 }), value: fc.integer() }),
  fc.record({ op: fc.constant('delete' as const), key: fc.string({ maxLength: 3 }) }),
  fc.constant({ op: 'fork' as const }),
);

describe('copy-on-write map', () => {
  it('leaves every fork as it was when taken, whatever the live map does after', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 200 }), (steps) => {
        const live = new CowMap<number>();
        const model = new Map<string, number>();
        const forks: [CowMap<number>, Map<string, number>][] = [];
        for (const s of steps) {
          if (s.op === 'set') {
            live.set(s.key, s.value);
            model.set(s.key, s.value);
          } else if (s.op === 'delete') {
            assert.equal(live.delete(s.key), model.delete(s.key));
          } else {
            live.sortedValues();
            forks.push([live.fork(), new Map(model)]);
          }
        }
        for (const [map, expected] of [[live, model] as const, ...forks]) {
          assert.equal(map.size, expected.size);
          const keys = [...expected.keys()].sort();
          assert.deepEqual([...map.keys()].sort(), keys);
          assert.deepEqual(map.sortedValues(), keys.map((k) => expected.get(k)));
          for (const k of keys) assert.equal(map.get(k), expected.get(k));
        }
      }),
    );
  });
});
