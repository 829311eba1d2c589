import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RestartPolicy } from '../../model/index.ts';
import { RestartTracker } from './restart-tracker.ts';

const policy = (overrides: Partial<RestartPolicy> = {}): RestartPolicy => ({ attempts: 2, intervalMs: 1_000, delayMs: 10, mode: 'fail', ...overrides });

describe('RestartTracker', () => {
  it('restarts up to `attempts` times within the interval, then gives up in fail mode', () => {
    const t = new RestartTracker(policy());
    assert.deepEqual(t.next(0, 1, false), { restart: true, delayMs: 10, reason: 'restart 1 of 2 within 1s' });
    assert.equal(t.next(100, 1, false).restart, true);
    const third = t.next(200, 1, false);
    assert.equal(third.restart, false);
    assert.match(third.reason, /exceeded 2 restarts within 1s/);
  });

  it('follows a policy changed in place, counting the restarts already made against the new limit', () => {
    const t = new RestartTracker(policy({ attempts: 1 }));
    assert.equal(t.next(0, 1, false).restart, true);
    t.setPolicy(policy({ attempts: 3, delayMs: 50 }));
    assert.deepEqual(t.next(100, 1, false), { restart: true, delayMs: 50, reason: 'restart 2 of 3 within 1s' });
    t.setPolicy(policy({ attempts: 2 }));
    assert.equal(t.next(200, 1, false).restart, false, 'two restarts made: the lowered limit is reached');
  });

  it('gives up at the first exit when no attempts are allowed', () => {
    assert.equal(new RestartTracker(policy({ attempts: 0 })).next(0, 1, false).restart, false);
  });

  it('in delay mode waits until the interval has passed, then counts anew', () => {
    const t = new RestartTracker(policy({ mode: 'delay' }));
    t.next(0, 1, false);
    t.next(100, 1, false);
    const waited = t.next(200, 1, false);
    assert.equal(waited.restart, true);
    assert.equal(waited.restart && waited.delayMs, 800, 'the rest of the interval that began at 0');
    // The task ran again at 1000: a new window with a full set of attempts.
    assert.deepEqual(t.next(1_050, 1, false), { restart: true, delayMs: 10, reason: 'restart 1 of 2 within 1s' });
    assert.equal(t.next(1_100, 1, false).restart, true);
    const again = t.next(1_150, 1, false);
    assert.equal(again.restart && again.delayMs, 850, 'waits for the end of the window that began at 1000');
  });

  it('in delay mode waits at least the restart delay even when the interval is over', () => {
    const t = new RestartTracker(policy({ mode: 'delay', attempts: 1, delayMs: 300, intervalMs: 250 }));
    t.next(0, 1, false);
    const second = t.next(200, 1, false);
    assert.equal(second.restart && second.delayMs, 300);
  });

  it('starts a new window once the interval has passed since the first exit of the last one', () => {
    const t = new RestartTracker(policy());
    t.next(0, 1, false);
    t.next(500, 1, false);
    assert.deepEqual(t.next(1_000, 1, false), { restart: true, delayMs: 10, reason: 'restart 1 of 2 within 1s' });
    assert.equal(t.next(1_100, 1, false).restart, true);
    assert.equal(t.next(1_200, 1, false).restart, false);
  });

  it('does not restart a batch task that exited 0', () => {
    assert.deepEqual(new RestartTracker(policy()).next(0, 0, true), { restart: false, reason: 'task completed' });
  });

  it('restarts a batch task that exited non-zero or could not start', () => {
    const t = new RestartTracker(policy());
    assert.equal(t.next(0, 2, true).restart, true);
    assert.equal(t.next(10, undefined, true).restart, true);
    assert.equal(t.next(20, 2, true).restart, false);
  });

  it('restarts a service task that exited 0, and counts it against the policy', () => {
    const t = new RestartTracker(policy({ attempts: 1 }));
    assert.equal(t.next(0, 0, false).restart, true);
    assert.equal(t.next(10, 0, false).restart, false);
  });
});
