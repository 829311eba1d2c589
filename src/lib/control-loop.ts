import { systemClock, type Clock, type Timer } from './clock.ts';

/** Settings of a control loop. */
export interface ControlLoopOptions {
  /** A pass also runs this long after the last one when nothing pokes the loop. */
  intervalMs: number;
  /** Called with what a pass threw; the loop carries on. */
  onError: (err: unknown) => void;
  /** Where the timer is set. Default: the wall clock. */
  clock?: Clock;
  /** The shortest wait a pass may ask for (see `ControlLoopPass`), so that a loop never spins. Default 0. */
  minDelayMs?: number;
}

/**
 * One pass of a control loop. A pass that knows when it has work next (a launch due, a timeout
 * running out) returns how many milliseconds from now; the loop then runs sooner than `intervalMs`.
 */
export type ControlLoopPass = () => Promise<number | void>;

/**
 * The skeleton of a level-triggered control loop (Kubernetes' controllers): each pass recomputes
 * from the current state what to do, so missing a change is harmless. `poke()` makes a pass run
 * soon; pokes in one tick, or during a pass, collapse into one more pass; after each pass a timer
 * runs the next one in case nothing pokes. One pass runs at a time.
 */
export class ControlLoop {
  readonly #pass: ControlLoopPass;
  readonly #options: ControlLoopOptions;
  readonly #clock: Clock;
  #timer: Timer | undefined;
  #running = false;
  #again = false;
  #active = false;
  #idle: Promise<void> = Promise.resolve();

  constructor(pass: ControlLoopPass, options: ControlLoopOptions) {
    this.#pass = pass;
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
  }

  /** True between `start()` and `stop()`. */
  get active(): boolean {
    return this.#active;
  }

  /** Resolves once the pass under way, if any, has finished (right after `start()`: the first pass). */
  get idle(): Promise<void> {
    return this.#idle;
  }

  start(): void {
    if (this.#active) return;
    this.#active = true;
    this.poke();
  }

  /** Stop poking; resolves once a pass under way has finished. */
  stop(): Promise<void> {
    this.#active = false;
    this.#timer?.cancel();
    this.#timer = undefined;
    return this.#idle;
  }

  /** Something changed: run a pass soon. */
  poke(): void {
    if (!this.#active) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#running = true;
    this.#idle = new Promise<void>((resolve) => {
      setImmediate(() => {
        let next = this.#options.intervalMs;
        // Through a promise, so that a pass that throws before its first await is reported too.
        Promise.resolve()
          .then(() => this.#pass())
          .then(
            (ms) => void (typeof ms === 'number' && (next = Math.min(next, ms))),
            (err: unknown) => this.#options.onError(err),
          )
          .finally(() => {
            this.#running = false;
            resolve();
            if (this.#again) {
              this.#again = false;
              this.poke();
            } else this.#arm(next);
          });
      });
    });
  }

  #arm(ms: number): void {
    if (!this.#active) return;
    this.#timer = this.#clock.setTimer(() => {
      this.#timer = undefined;
      this.poke();
    }, Math.max(this.#options.minDelayMs ?? 0, ms));
  }
}
