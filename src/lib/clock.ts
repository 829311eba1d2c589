/** A timer set on a clock; cancelling one that already fired does nothing. */
export interface Timer {
  cancel(): void;
}

/**
 * Where logic reads the time, waits and sets timers, so that tests can move time by hand
 * (`FakeClock` in testing/) instead of waiting on it.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Resolves after `ms`, or rejects with the signal's reason when aborted. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /**
   * Run `fn` once after `ms` milliseconds. The timer does not keep the process alive: what
   * must keep running holds a socket or a sleep open.
   */
  setTimer(fn: () => void, ms: number): Timer;
}

/** The longest wait setTimeout takes. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The wall clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
  setTimer(fn, ms) {
    // setTimeout fires at once past 2^31 - 1 ms; no wait here is that long but a "never" (the agent's
    // heartbeat interval), which this keeps a never.
    const handle = setTimeout(fn, Math.min(ms, MAX_TIMER_MS));
    handle.unref();
    return { cancel: () => clearTimeout(handle) };
  },
};
