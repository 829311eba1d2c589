import type { Evaluation } from '../../model/index.ts';
import { systemClock, type Clock, type Timer } from '../../lib/index.ts';

/** A delivered evaluation. Ack when done; nack to have it delivered again later. */
export interface Delivery {
  evaluation: Evaluation;
  /** How many times it has been delivered, this one included. */
  attempt: number;
  /** Evaluations of the same job that were waiting and that this pass covers too. */
  coalesced: Evaluation[];
}

/** Broker settings. */
export interface BrokerOptions {
  /** Deliveries before an evaluation is given up on. Default 3. */
  deliveryLimit?: number;
  /** The time and timers, for evaluations that wait (`waitUntil`). Default: the wall clock. */
  clock?: Clock;
}

/**
 * The eval broker: hands pending evaluations to workers in priority order, one in flight per job,
 * at least once. Evaluations of a job that queue up while one is in flight are coalesced: the next
 * pass reads the whole state afresh, so one pass answers all of them.
 */
export class EvalBroker {
  readonly #deliveryLimit: number;
  /** Pending evaluations by job, waiting for a worker. */
  readonly #pending = new Map<string, Map<string, Evaluation>>();
  /** Jobs with an evaluation out at a worker. */
  readonly #inFlight = new Map<string, Delivery>();
  readonly #attempts = new Map<string, number>();
  readonly #waiters: ((d: Delivery | null) => void)[] = [];
  /** Evaluations that wait for their `waitUntil`, by id. */
  readonly #delayed = new Map<string, Timer>();
  readonly #clock: Clock;
  #enabled = false;

  constructor(options: BrokerOptions = {}) {
    this.#deliveryLimit = options.deliveryLimit ?? 3;
    this.#clock = options.clock ?? systemClock;
  }

  /** Start handing out work (on the leader). */
  enable(): void {
    this.#enabled = true;
    this.#dispatch();
  }

  /** Stop handing out work; waiting workers get null. */
  disable(): void {
    this.#enabled = false;
    for (const t of this.#delayed.values()) t.cancel();
    this.#delayed.clear();
    this.#pending.clear();
    this.#inFlight.clear();
    for (const w of this.#waiters.splice(0)) w(null);
  }

  /** Add (or refresh) a pending evaluation. Idempotent per eval id. */
  enqueue(evaluation: Evaluation): void {
    if (!this.#enabled) return;
    const wait = (evaluation.waitUntil ?? 0) - this.#clock.now();
    if (wait > 0) {
      // A delayed evaluation (reschedule delay, lost_after) is held until its time.
      if (this.#delayed.has(evaluation.id)) return;
      const timer = this.#clock.setTimer(() => {
        this.#delayed.delete(evaluation.id);
        this.enqueue({ ...evaluation, waitUntil: undefined });
      }, wait);
      this.#delayed.set(evaluation.id, timer);
      return;
    }
    if (this.#inFlight.get(evaluation.jobId)?.evaluation.id === evaluation.id) return;
    let byJob = this.#pending.get(evaluation.jobId);
    if (!byJob) this.#pending.set(evaluation.jobId, (byJob = new Map()));
    byJob.set(evaluation.id, evaluation);
    this.#dispatch();
  }

  /** Wait for the next evaluation; null once the broker is disabled or the signal aborts. */
  dequeue(signal?: AbortSignal): Promise<Delivery | null> {
    if (!this.#enabled || signal?.aborted) return Promise.resolve(null);
    const ready = this.#take();
    if (ready) return Promise.resolve(ready);
    return new Promise((resolve) => {
      const waiter = (d: Delivery | null): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve(d);
      };
      const onAbort = (): void => {
        const i = this.#waiters.indexOf(waiter);
        if (i >= 0) this.#waiters.splice(i, 1);
        resolve(null);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  /** The evaluation was processed: the job may have its next one. */
  ack(delivery: Delivery): void {
    this.#finish(delivery);
    this.#attempts.delete(delivery.evaluation.id);
  }

  /**
   * Processing failed. Returns true when the evaluation will be delivered again, false when it
   * has reached the delivery limit and must be marked failed by the caller.
   */
  nack(delivery: Delivery): boolean {
    this.#finish(delivery);
    const again = delivery.attempt < this.#deliveryLimit;
    if (again) {
      const byJob = this.#pending.get(delivery.evaluation.jobId) ?? new Map<string, Evaluation>();
      for (const e of [delivery.evaluation, ...delivery.coalesced]) byJob.set(e.id, e);
      this.#pending.set(delivery.evaluation.jobId, byJob);
      this.#dispatch();
    } else {
      this.#attempts.delete(delivery.evaluation.id);
    }
    return again;
  }

  /** Evaluations waiting (not in flight). */
  get readyCount(): number {
    let n = 0;
    for (const byJob of this.#pending.values()) n += byJob.size;
    return n;
  }

  /** When the oldest evaluation waiting for a worker was created; undefined when none waits. */
  get oldestReadyCreateTime(): number | undefined {
    let oldest: number | undefined;
    for (const byJob of this.#pending.values()) for (const e of byJob.values()) if (oldest === undefined || e.createTime < oldest) oldest = e.createTime;
    return oldest;
  }

  /** Evaluations waiting for their time. */
  get delayedCount(): number {
    return this.#delayed.size;
  }

  /** Jobs with an evaluation at a worker. */
  get inFlightCount(): number {
    return this.#inFlight.size;
  }

  #finish(delivery: Delivery): void {
    const jobId = delivery.evaluation.jobId;
    if (this.#inFlight.get(jobId) === delivery) this.#inFlight.delete(jobId);
    this.#dispatch();
  }

  #dispatch(): void {
    while (this.#waiters.length > 0) {
      const d = this.#take();
      if (!d) return;
      this.#waiters.shift()!(d);
    }
  }

  /** The highest-priority pending evaluation of a job with nothing in flight. */
  #take(): Delivery | null {
    if (!this.#enabled) return null;
    let best: Evaluation | undefined;
    for (const [jobId, byJob] of this.#pending) {
      if (this.#inFlight.has(jobId)) continue;
      for (const e of byJob.values()) {
        if (!best || e.priority > best.priority || (e.priority === best.priority && e.createTime < best.createTime)) best = e;
      }
    }
    if (!best) return null;
    const byJob = this.#pending.get(best.jobId)!;
    this.#pending.delete(best.jobId);
    // The newest evaluation of the job leads the pass; the rest ride along.
    const all = [...byJob.values()].sort((a, b) => b.createTime - a.createTime);
    const lead = all[0];
    const attempt = (this.#attempts.get(lead.id) ?? 0) + 1;
    this.#attempts.set(lead.id, attempt);
    const delivery: Delivery = { evaluation: lead, attempt, coalesced: all.slice(1) };
    this.#inFlight.set(lead.jobId, delivery);
    return delivery;
  }
}
