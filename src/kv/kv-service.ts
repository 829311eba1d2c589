/**
 * The KV layer's front: Consul's KV reads and writes, `/v1/txn` and sessions over one mirror.
 * Routes call this and render; the server owns one and starts its session reaper.
 */
import { BerthError } from '../model/index.ts';
import type { StateBackend } from '../state/index.ts';
import type { KvEntry } from './entries.ts';
import { KvStore } from './kv-store.ts';
import { deleteKey, putKey, runTxnOp, txnReturnsValue, type PutOptions, type TxnKvOp } from './kv-ops.ts';
import { Sessions } from './sessions.ts';

/** Most operations one `/v1/txn` may carry, as Consul. */
export const MAX_TXN_OPS = 64;

/** The answer of `/v1/txn`: results when it committed, errors (op index and why) when it rolled back. */
export type TxnOutcome = { ok: true; index: number; results: KvEntry[] } | { ok: false; errors: { OpIndex: number; What: string }[] };

/** Consul's KV and sessions over a state backend. */
export class KvService {
  private constructor(
    readonly store: KvStore,
    readonly sessions: Sessions,
  ) {}

  /** Load the mirror from the backend and follow it. `node` is the default node of new sessions. */
  static async open(backend: StateBackend, options: { node: string; now?: () => number }): Promise<KvService> {
    const store = await KvStore.open(backend);
    return new KvService(store, new Sessions(store, options.node, options.now));
  }

  /** Stop the reaper and the mirror's watch. */
  close(): void {
    this.sessions.stop();
    this.store.close();
  }

  /** PUT /v1/kv/:key: true when written. */
  async put(key: string, value: string | null, opts: PutOptions): Promise<{ ok: boolean; index: number }> {
    const { result, index } = await this.store.write((tx) => putKey(tx, key, value, opts, this.sessions.inLockDelay));
    return { ok: result, index };
  }

  /** DELETE /v1/kv/:key: true when deleted (or nothing to delete). */
  async delete(key: string, opts: { recurse?: boolean; cas?: number }): Promise<{ ok: boolean; index: number }> {
    const { result, index } = await this.store.write((tx) => deleteKey(tx, key, opts));
    return { ok: result, index };
  }

  /** PUT /v1/txn with KV operations: all apply, or none. */
  async txn(ops: TxnKvOp[]): Promise<TxnOutcome> {
    if (ops.length > MAX_TXN_OPS) {
      throw new BerthError('invalid_input', `Cannot run the transaction: it has ${ops.length} operations, the limit is ${MAX_TXN_OPS}; split it`);
    }
    const { result, index } = await this.store.write((tx) => {
      const results: { entry: KvEntry; value: boolean }[] = [];
      const errors: { OpIndex: number; What: string }[] = [];
      ops.forEach((op, i) => {
        const out = runTxnOp(tx, op, this.sessions.inLockDelay);
        if (!out.ok) errors.push({ OpIndex: i, What: out.what });
        else for (const entry of out.entries) results.push({ entry, value: txnReturnsValue(op.Verb) });
      });
      // A rolled-back txn must write nothing: throw away this attempt's writes.
      if (errors.length > 0) tx.abandon();
      return { results, errors };
    });
    if (result.errors.length > 0) return { ok: false, errors: result.errors };
    return { ok: true, index, results: result.results.map(({ entry, value }) => (value || entry.Value === null ? { ...entry } : { ...entry, Value: null })) };
  }
}
