/**
 * The leader's rekey loop: after a rotation, re-encrypt variables under the active key in batches,
 * then mark the keys nothing uses any more inactive. Level-triggered on lib's ControlLoop: each
 * pass looks at what is still under an old key; keyring changes only wake it sooner.
 */
import { ControlLoop, type Clock, type Logger } from '../../lib/index.ts';
import type { StateStore, StateView } from '../../state/index.ts';
import type { Keyring } from './keyring.ts';
import type { VariableService } from './variable-service.ts';

/** Options of the rekey loop. */
export interface RekeyLoopOptions {
  /** Variables re-encrypted per txn. Default 100. */
  batch?: number;
  /** A pass also runs this often. Default 10 s. */
  intervalMs?: number;
}

/** The leader's loop that moves variables to the active key and retires keys nothing uses. */
export class RekeyLoop {
  readonly #loop: ControlLoop;
  #unsubscribe: (() => void) | undefined;

  constructor(
    private readonly d: { view: StateView; store: StateStore; keyring: Keyring; variables: VariableService; logger: Logger; clock?: Clock },
    private readonly options: RekeyLoopOptions = {},
  ) {
    this.#loop = new ControlLoop(() => this.#pass(), { intervalMs: options.intervalMs ?? 10_000, clock: d.clock, onError: (err) => d.logger.warn({ err }, 'rekey pass failed; retrying') });
  }

  start(): void {
    this.#unsubscribe ??= this.d.view.onChange((_rev, changes) => {
      if (changes.some((c) => c.table === 'keyring')) this.#loop.poke();
    });
    this.#loop.start();
  }

  async stop(): Promise<void> {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    await this.#loop.stop();
  }

  /** Re-encrypt batch after batch until nothing is left under an old key, then retire the old keys. */
  async #pass(): Promise<void> {
    let moved = 0;
    for (;;) {
      const n = await this.d.variables.reencrypt(this.options.batch ?? 100, this.d.store);
      if (n === 0) break;
      moved += n;
      // Let requests in between batches.
      await new Promise((r) => setImmediate(r));
    }
    const retired = await this.d.keyring.retireUnused();
    if (moved > 0 || retired.length > 0) this.d.logger.info({ moved, retired }, 'keyring: variables re-encrypted under the active key');
  }
}
