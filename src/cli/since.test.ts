import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSince } from './since.ts';

describe('--since', () => {
  it('reads a duration back from now or a time, and says what it takes otherwise', () => {
    const now = Date.UTC(2026, 11, 7, 12, 0, 0);
    assert.equal(parseSince('10m', now), now - 600_000);
    assert.equal(parseSince('1h30m', now), now - 5_400_000);
    assert.equal(parseSince('2026-12-07T11:00:00Z', now), Date.UTC(2026, 11, 7, 11, 0, 0));
    assert.throws(() => parseSince('2026', now), /expected a duration back from now \(10m, 1h30m\) or a time/);
    assert.throws(() => parseSince('yesterday', now), /got "yesterday"/);
  });
});
