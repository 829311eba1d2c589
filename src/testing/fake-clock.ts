import type { Clock, Timer } from '../lib/index.ts';

interface Pending {
  at: number;
  seq: number;
  fn: () => void;
}

/**
 * A clock that moves only when the test says so. `advance(ms)` fires every timer (and ends every
 * sleep) that falls due on the way, in time order, ties in the order they were set; a timer set
 * while firing that falls due within the same advance fires too.
 */
export class FakeClock implements Clock {
  #time: number;
  #seq = 0;
  readonly #timers = new Set<Pending>();

  constructor(start = 1_700_000_000_000) {
    this.#time = start;
  }

  now(): number {
    return this.#time;
  }

  setTimer(fn: () => void, ms: number): Timer {
    const timer = { at: this.#time + Math.max(0, ms), seq: this.#seq++, fn };
    this.#timers.add(timer);
    return { cancel: () => this.#timers.delete(timer) };
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = (): void => {
        timer.cancel();
        reject(signal?.reason);
      };
      const timer = this.setTimer(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** How many timers and sleeps are waiting. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Move time forward by `ms`, firing every timer that falls due on the way. */
  advance(ms: number): void {
    const end = this.#time + ms;
    for (let next = this.#due(end); next; next = this.#due(end)) {
      this.#timers.delete(next);
      this.#time = Math.max(this.#time, next.at);
      next.fn();
    }
    this.#time = end;
  }

  /** Move time forward to `time` (ms since the epoch), as `advance` does. */
  advanceTo(time: number): void {
    this.advance(Math.max(0, time - this.#time));
  }

  /**
   * `advance` in steps of `stepMs`, letting promises and I/O callbacks run between steps, so that
   * a loop that sleeps, wakes and sleeps again turns as it would in real time.
   */
  async run(ms: number, stepMs = ms): Promise<void> {
    for (let left = ms; left > 0; left -= stepMs) {
      this.advance(Math.min(stepMs, left));
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  #due(end: number): Pending | undefined {
    let next: Pending | undefined;
    for (const t of this.#timers) {
      if (t.at <= end && (!next || t.at < next.at || (t.at === next.at && t.seq < next.seq))) next = t;
    }
    return next;
  }
}
