/**
 * Runs one check on its interval and reports only transitions, after Consul's thresholds
 * (`success_before_passing`, `failures_before_critical`). A report that fails (the server is
 * away, or has not registered the instance yet) is sent again after the next run: the runner
 * reports the level, not the edge it saw.
 */
import type { CheckSpec, CheckStatus } from '../../model/index.ts';
import { ControlLoop, systemClock, type Clock } from '../../lib/index.ts';
import { probe, type ProbeResult, type ProbeTarget } from './probe.ts';

/** Options of `CheckRunner`. */
export interface CheckRunnerOptions {
  id: string;
  spec: CheckSpec;
  target: ProbeTarget;
  /** Send a status to the catalog; rejects when it could not. */
  report: (checkId: string, status: CheckStatus, output: string) => Promise<void>;
  /** Called when `check_restart.limit` consecutive critical results were seen past the grace period. */
  onRestart?: (reason: string) => void;
  /** Replaces the real probe (tests). */
  probe?: (spec: CheckSpec, target: ProbeTarget) => Promise<ProbeResult>;
  /** For the interval and check_restart's grace. Default: the wall clock. */
  clock?: Clock;
}

/** One check's loop. */
export class CheckRunner {
  readonly #o: CheckRunnerOptions;
  readonly #clock: Clock;
  readonly #loop: ControlLoop;
  #stopped = false;
  /** What the catalog was last told; undefined until a report succeeds (the catalog may hold anything). */
  #reported: CheckStatus | undefined;
  #status: CheckStatus = 'critical';
  #output = '';
  #successes = 0;
  #failures = 0;
  #criticalRun = 0;
  #graceUntil = 0;

  constructor(options: CheckRunnerOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    // A probe that throws is a run with no result: the next run probes again.
    this.#loop = new ControlLoop(() => this.runOnce(), { intervalMs: options.spec.intervalMs, clock: this.#clock, onError: () => {} });
  }

  /** The check's id (`service:<instance>`, with `:<n>` past its first). */
  get id(): string {
    return this.#o.id;
  }

  /** The status the runner holds now, after thresholds. */
  get status(): CheckStatus {
    return this.#status;
  }

  /** Start running: first at once, then every interval. */
  start(): void {
    this.#graceUntil = this.#now() + (this.#o.spec.checkRestart?.graceMs ?? 0);
    this.#loop.start();
  }

  stop(): void {
    this.#stopped = true;
    void this.#loop.stop();
  }

  /**
   * The task (re)started: check_restart counts from scratch after the grace period, and the
   * catalog registered the instance afresh with its checks critical (catalog/derive.ts), so a
   * level other than critical is reported again even though it did not change here.
   */
  taskRestarted(): void {
    this.#reported = 'critical';
    this.#criticalRun = 0;
    this.#graceUntil = this.#now() + (this.#o.spec.checkRestart?.graceMs ?? 0);
  }

  #now(): number {
    return this.#clock.now();
  }

  /** One run: probe, apply thresholds, report a change. Exposed for tests. */
  async runOnce(): Promise<void> {
    const result = await (this.#o.probe ?? probe)(this.#o.spec, this.#o.target);
    if (this.#stopped) return;
    this.#apply(result);
    this.#restartCheck(result.status);
    if (this.#reported === this.#status) return;
    const status = this.#status;
    try {
      await this.#o.report(this.#o.id, status, this.#output);
      this.#reported = status;
    } catch {
      // Level-triggered: the next run reports again.
    }
  }

  #apply(result: ProbeResult): void {
    const spec = this.#o.spec;
    this.#output = result.output;
    if (result.status === 'passing') {
      this.#failures = 0;
      this.#successes++;
      if (this.#successes >= Math.max(1, spec.successBeforePassing) || this.#status === 'passing') this.#status = 'passing';
    } else {
      this.#successes = 0;
      this.#failures++;
      if (this.#failures >= Math.max(1, spec.failuresBeforeCritical) || this.#status !== 'passing') this.#status = result.status;
    }
  }

  #restartCheck(raw: CheckStatus): void {
    const limit = this.#o.spec.checkRestart?.limit ?? 0;
    if (limit === 0 || !this.#o.onRestart) return;
    if (raw !== 'critical' || this.#now() < this.#graceUntil) {
      if (raw !== 'critical') this.#criticalRun = 0;
      return;
    }
    this.#criticalRun++;
    if (this.#criticalRun >= limit) {
      this.#o.onRestart(`check "${this.#o.id}" unhealthy ${this.#criticalRun} times in a row`);
      this.taskRestarted();
    }
  }
}
