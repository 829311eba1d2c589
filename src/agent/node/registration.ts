import { BerthError, isBerthError } from '../../model/index.ts';
import { backoffDelay, ControlLoop, type Clock, type Logger } from '../../lib/index.ts';
import type { BerthClient, NodeRegisterRequest } from '../../api/index.ts';

/** The longest a timer can wait (setTimeout's limit, 2^31 - 1 ms). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** What a node registration is given. */
export interface NodeRegistrationOptions {
  /** Every server known; a call goes on to the next one when a server does not answer. */
  client: Pick<BerthClient, 'registerNode' | 'heartbeat'>;
  request: NodeRegisterRequest;
  clock: Clock;
  logger: Logger;
  /** Aborted when the agent stops: ends the retries and the heartbeat loop. */
  signal: AbortSignal;
}

/**
 * The node's standing with the servers: registration (retried until a server answers) and the
 * heartbeats that keep it up, at the TTL the server hands out. A server that no longer knows the
 * node (its state was reset, or the node was garbage-collected) gets the registration again.
 */
export class NodeRegistration {
  readonly #o: NodeRegistrationOptions;
  /** Until the server says otherwise. */
  #ttlMs = 10_000;
  /** Heartbeats that failed in a row. */
  #failures = 0;

  constructor(options: NodeRegistrationOptions) {
    this.#o = options;
  }

  /** The node as registered. */
  get request(): NodeRegisterRequest {
    return this.#o.request;
  }

  /**
   * Register, retrying with backoff until a server answers or the agent stops. A refusal that
   * retrying cannot change (the id is another node's, the token lacks `nodes: write`) is thrown.
   */
  async register(): Promise<void> {
    const { client, clock, logger, signal } = this.#o;
    for (let attempt = 0; !signal.aborted; attempt++) {
      try {
        this.#ttlMs = (await client.registerNode(this.#o.request)).heartbeatTtlMs;
        return;
      } catch (err) {
        if (isBerthError(err, 'forbidden') || isBerthError(err, 'unauthorized')) {
          throw new BerthError((err as BerthError).code, `Cannot register node "${this.#o.request.name}": ${(err as Error).message}`);
        }
        const delay = backoffDelay(attempt, { baseMs: 250, maxMs: 5000 });
        logger.warn({ err: (err as Error).message, retryInMs: delay }, 'cannot register with the server');
        await clock.sleep(delay, signal).catch(() => undefined);
      }
    }
  }

  /**
   * Heartbeat until the agent stops, on a ControlLoop whose passes say when the next one is due:
   * half the TTL after a success (with jitter), a backoff after a failure.
   */
  async heartbeatLoop(): Promise<void> {
    const { clock, logger, signal } = this.#o;
    if (signal.aborted) return;
    // Each pass returns its wait. One that threw (a re-registration refused for good) is logged and
    // the interval, the longest timer, is as good as never: heartbeats end, as the agent must.
    const loop = new ControlLoop(() => this.#beat(), { intervalMs: MAX_TIMER_MS, clock, onError: (err) => logger.error({ err }, 'heartbeat pass failed') });
    // Registering was as good as a heartbeat: the first one is due a wait from now.
    const first = clock.setTimer(() => loop.start(), this.#nextWait());
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    first.cancel();
    await loop.stop();
  }

  /** One heartbeat (a registration again when the server no longer knows the node); returns the wait until the next. */
  async #beat(): Promise<number> {
    const { client, logger, signal } = this.#o;
    if (signal.aborted) return MAX_TIMER_MS;
    try {
      this.#ttlMs = (await client.heartbeat(this.#o.request.id)).heartbeatTtlMs;
      this.#failures = 0;
    } catch (err) {
      this.#failures++;
      if (isBerthError(err, 'not_found')) await this.register();
      else logger.warn({ err: (err as Error).message }, 'heartbeat failed');
    }
    return this.#nextWait();
  }

  /** Half the TTL leaves room for one lost heartbeat; jitter keeps agents from beating in step. */
  #nextWait(): number {
    return this.#failures > 0 ? backoffDelay(this.#failures, { baseMs: 500, maxMs: this.#ttlMs / 3 }) : this.#ttlMs / 2 - Math.random() * (this.#ttlMs / 10);
  }
}
