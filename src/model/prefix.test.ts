import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isBerthError } from './errors.ts';
import { findByIdPrefix } from './prefix.ts';

const items = [{ id: 'abcd1111' }, { id: 'abcd2222' }, { id: 'abc' }, { id: 'ffff0000' }];

describe('findByIdPrefix', () => {
  it('takes the exact id first, even when it is also a prefix of others', () => {
    assert.equal(findByIdPrefix(items, 'abc', { what: 'job', minLength: 1 }).id, 'abc');
  });

  it('takes a unique prefix of at least the minimum length', () => {
    assert.equal(findByIdPrefix(items, 'ffff', { what: 'allocation' }).id, 'ffff0000');
    assert.throws(() => findByIdPrefix(items, 'fff', { what: 'allocation' }), (err) => isBerthError(err, 'not_found') && /at least 4 characters/.test(err.message));
  });

  it('refuses an ambiguous prefix, listing the candidates', () => {
    assert.throws(
      () => findByIdPrefix(items, 'abcd', { what: 'allocation', label: (i) => `${i.id} (web)` }),
      (err) => isBerthError(err, 'invalid_input') && err.message === 'Cannot find allocation "abcd": the prefix matches 2 allocations; give more characters of one of:\n  abcd1111 (web)\n  abcd2222 (web)',
    );
  });

  it('says where to look when nothing matches', () => {
    assert.throws(() => findByIdPrefix(items, 'zzzz', { what: 'node', listCommand: 'berth node status' }), { message: 'Cannot find node "zzzz": no such node (see `berth node status`)' });
  });
});
