import type { RestartPolicy } from '../../model/index.ts';

/** What to do after a task exited. */
export type RestartDecision = { restart: true; delayMs: number; reason: string } | { restart: false; reason: string };

/**
 * The restart policy of one task (Nomad's semantics): at most `attempts` restarts within
 * `interval`; then `fail` gives up, `delay` waits for the interval to end and starts counting anew.
 * Pure: it is given the time.
 */
export class RestartTracker {
  #policy: RestartPolicy;
  #windowStart = -1;
  #count = 0;

  constructor(policy: RestartPolicy) {
    this.#policy = policy;
  }

  /**
   * Follow a policy changed in place (a new job version): the restarts already counted in this
   * interval still count, against the new limits, from the next exit on.
   */
  setPolicy(policy: RestartPolicy): void {
    this.#policy = policy;
  }

  /** Decide after an exit (or a failed start) at `now`. `batchSuccess`: a batch task exited 0 and is done. */
  next(now: number, exitCode: number | undefined, batch: boolean): RestartDecision {
    if (batch && exitCode === 0) return { restart: false, reason: 'task completed' };
    const p = this.#policy;
    if (this.#windowStart < 0 || now - this.#windowStart >= p.intervalMs) {
      this.#windowStart = now;
      this.#count = 0;
    }
    if (this.#count < p.attempts) {
      this.#count++;
      return { restart: true, delayMs: p.delayMs, reason: `restart ${this.#count} of ${p.attempts} within ${p.intervalMs / 1000}s` };
    }
    if (p.mode === 'fail') return { restart: false, reason: `exceeded ${p.attempts} restarts within ${p.intervalMs / 1000}s` };
    const wait = Math.max(p.delayMs, this.#windowStart + p.intervalMs - now);
    this.#windowStart = now + wait;
    this.#count = 0;
    return { restart: true, delayMs: wait, reason: `exceeded ${p.attempts} restarts; waiting for the interval to pass` };
  }
}
