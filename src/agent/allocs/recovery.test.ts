import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mockAlloc } from '../../testing/index.ts';
import { isReplaced } from './recovery.ts';

describe('isReplaced', () => {
  const lost = mockAlloc({ name: 'web.web[0]', clientStatus: 'lost', desiredStatus: 'run' });

  it('says a lost allocation was replaced when another of its name is wanted and not ended', () => {
    assert.equal(isReplaced(lost, [lost, mockAlloc({ name: 'web.web[0]', clientStatus: 'running', desiredStatus: 'run' })]), true);
    assert.equal(isReplaced(lost, [lost, mockAlloc({ name: 'web.web[0]', clientStatus: 'pending', desiredStatus: 'run' })]), true);
  });

  it('says it was not when the others have another name, are stopped, or ended', () => {
    assert.equal(isReplaced(lost, [lost]), false);
    assert.equal(isReplaced(lost, [mockAlloc({ name: 'web.web[1]', clientStatus: 'running', desiredStatus: 'run' })]), false);
    assert.equal(isReplaced(lost, [mockAlloc({ name: 'web.web[0]', clientStatus: 'running', desiredStatus: 'stop' })]), false);
    assert.equal(isReplaced(lost, [mockAlloc({ name: 'web.web[0]', clientStatus: 'failed', desiredStatus: 'run' })]), false);
  });
});
