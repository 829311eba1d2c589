import type { Clock } from './clock.ts';
import { ControlLoop } from './control-loop.ts';
import type { Logger } from './logger.ts';

/** How a controller's loop turns. */
export interface ControllerOptions {
  /** What the loop does, for its error log line ("drain" logs "drain pass failed"). */
  what: string;
  /** A pass also runs this long after the last one when nothing pokes. */
  intervalMs: number;
  clock: Clock;
  logger: Logger;
  /** The shortest wait a pass may ask for. Default 0. */
  minDelayMs?: number;
}

/**
 * A component driven by one `ControlLoop`: it writes `pass()`; start, stop and poke go to the loop,
 * and a pass that throws is logged. The drainer, the deployment watcher and the periodic
 * dispatcher are built on it.
 */
export abstract class Controller {
  readonly #loop: ControlLoop;

  constructor(options: ControllerOptions) {
    const { what, intervalMs, clock, logger, minDelayMs } = options;
    this.#loop = new ControlLoop(() => this.pass(), { intervalMs, clock, minDelayMs, onError: (err) => logger.error({ err }, `${what} pass failed`) });
  }

  /** One pass: read the state afresh and act on it; may return when (ms from now) to run again. */
  protected abstract pass(): Promise<number | void>;

  start(): void {
    this.#loop.start();
  }

  /** Stop; resolves once a pass under way has finished. */
  stop(): Promise<void> {
    return this.#loop.stop();
  }

  /** Something changed: run a pass soon. Pokes in one tick make one pass; one pass runs at a time. */
  poke(): void {
    this.#loop.poke();
  }
}
