import type { AllocUpdate } from '../../api/index.ts';
import { isBerthError } from '../../model/index.ts';
import { backoffDelay, systemClock, type Clock, type Logger } from '../../lib/index.ts';

/** What a `StatusReporter` is given. */
export interface StatusReporterOptions {
  /** Sends one batch; rejects when it could not. */
  send: (updates: AllocUpdate[]) => Promise<unknown>;
  logger: Logger;
  /** For the backoff between failed sends. Default: the wall clock. */
  clock?: Clock;
}

/**
 * Sends allocation updates to the server, coalesced: while one request is in flight, later
 * updates of the same allocation replace earlier ones and go out together in the next request.
 * A failed send is retried with backoff; nothing is dropped but superseded states.
 */
export class StatusReporter {
  readonly #send: (updates: AllocUpdate[]) => Promise<unknown>;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #pending = new Map<string, AllocUpdate>();
  #inFlight: Promise<void> | undefined;
  #failures = 0;
  #closed = false;

  constructor(options: StatusReporterOptions) {
    this.#send = options.send;
    this.#logger = options.logger;
    this.#clock = options.clock ?? systemClock;
  }

  /** Queue the latest state of an allocation. */
  push(update: AllocUpdate): void {
    this.#pending.set(update.id, update);
    this.#kick();
  }

  /** Resolves once everything queued so far has been sent (or the reporter closed). */
  async flush(): Promise<void> {
    while (this.#inFlight) await this.#inFlight;
  }

  close(): void {
    this.#closed = true;
  }

  #kick(): void {
    if (this.#inFlight || this.#closed || this.#pending.size === 0) return;
    // One microtask of grace lets updates raised in the same tick share a request.
    this.#inFlight = Promise.resolve()
      .then(() => this.#sendBatch())
      .finally(() => {
        this.#inFlight = undefined;
        this.#kick();
      });
  }

  async #sendBatch(): Promise<void> {
    const batch = [...this.#pending.values()];
    this.#pending.clear();
    try {
      await this.#send(batch);
      this.#failures = 0;
    } catch (err) {
      // The server refused the batch as invalid: sending it again cannot succeed, so drop it
      // loudly rather than retry forever and hold back every later report.
      if (isBerthError(err, 'invalid_input')) {
        this.#logger.error({ err: err.message, allocs: batch.map((u) => u.id) }, 'server refused allocation status; dropping it');
        return;
      }
      // Put back what was not superseded meanwhile, then wait before the next try.
      for (const u of batch) if (!this.#pending.has(u.id)) this.#pending.set(u.id, u);
      const delay = backoffDelay(this.#failures++, { baseMs: 200, maxMs: 5000 });
      this.#logger.warn({ err: (err as Error).message, retryInMs: delay }, 'cannot report allocation status');
      // A timer, not a sleep: the wait does not keep the process alive (an agent has its server for that).
      await new Promise<void>((resolve) => this.#clock.setTimer(resolve, delay));
    }
  }
}
