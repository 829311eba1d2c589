/** Settings of a control loop. */
export interface ControlLoopOptions {
  /** A pass also runs this often when nothing pokes the loop. */
  intervalMs: number;
  /** Called with what a pass threw; the loop carries on. */
  onError: (err: unknown) => void;
}

/**
 * The skeleton of a level-triggered control loop (Kubernetes' controllers): each pass recomputes
 * from the current state what to do, so missing a change is harmless. `poke()` makes a pass run
 * soon; pokes in one tick, or during a pass, collapse into one more pass; a timer runs a pass now
 * and then in case nothing pokes. One pass runs at a time.
 */
export class ControlLoop {
  readonly #pass: () => Promise<void>;
  readonly #options: ControlLoopOptions;
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  #again = false;
  #active = false;
  #idle: Promise<void> = Promise.resolve();

  constructor(pass: () => Promise<void>, options: ControlLoopOptions) {
    this.#pass = pass;
    this.#options = options;
  }

  start(): void {
    if (this.#active) return;
    this.#active = true;
    this.#timer = setInterval(() => this.poke(), this.#options.intervalMs);
    this.#timer.unref();
    this.poke();
  }

  /** Stop poking; resolves once a pass under way has finished. */
  stop(): Promise<void> {
    this.#active = false;
    clearInterval(this.#timer);
    return this.#idle;
  }

  /** Something changed: run a pass soon. */
  poke(): void {
    if (!this.#active) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = true;
    this.#idle = new Promise<void>((resolve) => {
      setImmediate(() => {
        this.#pass()
          .catch((err: unknown) => this.#options.onError(err))
          .finally(() => {
            this.#running = false;
            resolve();
            if (this.#again) {
              this.#again = false;
              this.poke();
            }
          });
      });
    });
  }
}
