/**
 * The KV layer's front: Consul's KV reads and writes, `/v1/txn` and sessions over one mirror.
 * Routes call this and render; the server owns one and starts its session reaper.
 */
import { BerthError } from '../model/index.ts';
import type { Compare, Op, StateBackend } from '../state/index.ts';
import type { KvEntry } from './entries.ts';
import { KvStore } from './kv-store.ts';
import type { KvTx } from './kv-tx.ts';
import { deleteKey, putKey, runTxnOp, txnReturnsValue, type PutOptions, type TxnKvOp } from './kv-ops.ts';
import { Sessions } from './sessions.ts';
import type { Clock } from '../lib/index.ts';

/** Most operations one `/v1/txn` may carry, as Consul. */
export const MAX_TXN_OPS = 64;

/** One result of `/v1/txn`: a KV entry, or what another kind of operation answered. */
export type TxnResult<R> = { KV: KvEntry } | { other: R };

/** The answer of `/v1/txn`: results when it committed, errors (op index and why) when it rolled back. */
export type TxnOutcome<R = never> = { ok: true; index: number; results: TxnResult<R>[] } | { ok: false; errors: { OpIndex: number; What: string }[] };

/** One operation of `/v1/txn`: a KV op, or one of another kind that a `TxnParticipant` runs. */
export type TxnOp<F = never> = { KV: TxnKvOp } | { other: F };

/**
 * Runs the operations of `/v1/txn` that are not KV ops (the catalog's) in the same backend txn:
 * each attempt (a lost race rebuilds it) runs them in order between the KV ops and adds its
 * compares and writes to the KV write's.
 */
export interface TxnParticipant<F, R> {
  /** A fresh attempt over the current state. */
  begin(): TxnAttempt<F, R>;
  /**
   * Awaited after each commit attempt with its revision: once committed, until the participant's
   * state shows it; after a lost race, until it caught up (bounded) for the rebuild.
   */
  settle(revision: number, committed: boolean): Promise<void>;
}

/** One attempt of a `TxnParticipant`. */
export interface TxnAttempt<F, R> {
  /** Run one op against what the attempt has seen and written so far. */
  run(op: F): { ok: true; results: R[] } | { ok: false; what: string };
  /** The backend compares (every row read) and writes (every row changed) of the attempt. */
  request(): { compare: Compare[]; success: Op[] };
  /** Called on the attempt that committed, with its revision (to fill in indexes). */
  finish(revision: number): void;
}

/** Consul's KV and sessions over a state backend. */
export class KvService {
  private constructor(
    readonly store: KvStore,
    readonly sessions: Sessions,
  ) {}

  /** Load the mirror from the backend and follow it. `node` is the default node of new sessions. */
  static async open(backend: StateBackend, options: { node: string; clock?: Clock }): Promise<KvService> {
    const store = await KvStore.open(backend);
    return new KvService(store, new Sessions(store, options.node, options.clock));
  }

  /** Stop the reaper and the mirror's watch. */
  close(): void {
    this.sessions.stop();
    this.store.close();
  }

  /** PUT /v1/kv/:key: true when written. */
  async put(key: string, value: string | null, opts: PutOptions): Promise<{ ok: boolean; index: number }> {
    const { result, index } = await this.store.write((tx) => putKey(tx, { ...opts, key, value }, this.sessions.inLockDelay));
    return { ok: result, index };
  }

  /** DELETE /v1/kv/:key: true when deleted (or nothing to delete). */
  async delete(key: string, opts: { recurse?: boolean; cas?: number }): Promise<{ ok: boolean; index: number }> {
    const { result, index } = await this.store.write((tx) => deleteKey(tx, key, opts));
    return { ok: result, index };
  }

  /** PUT /v1/txn: KV operations and, through `participant`, others; all apply, or none. */
  async txn<F = never, R = never>(ops: TxnOp<F>[], participant?: TxnParticipant<F, R>): Promise<TxnOutcome<R>> {
    if (ops.length > MAX_TXN_OPS) {
      throw new BerthError('invalid_input', `Cannot run the transaction: it has ${ops.length} operations, the limit is ${MAX_TXN_OPS}; split it`);
    }
    type Pending = { KV: KvEntry; value: boolean } | { other: R };
    let committed: TxnAttempt<F, R> | undefined;
    const build = (tx: KvTx): { results: Pending[]; errors: { OpIndex: number; What: string }[] } => {
      const results: Pending[] = [];
      const errors: { OpIndex: number; What: string }[] = [];
      const attempt = participant?.begin();
      committed = attempt;
      ops.forEach((op, i) => {
        if ('KV' in op) {
          const out = runTxnOp(tx, op.KV, this.sessions.inLockDelay);
          if (!out.ok) errors.push({ OpIndex: i, What: out.what });
          else for (const entry of out.entries) results.push({ KV: entry, value: txnReturnsValue(op.KV.Verb) });
          return;
        }
        if (!attempt) throw new BerthError('invalid_input', `Cannot run the transaction: operation ${i} is not a KV operation and nothing here runs it`);
        const out = attempt.run(op.other);
        if (!out.ok) errors.push({ OpIndex: i, What: out.what });
        else for (const r of out.results) results.push({ other: r });
      });
      if (attempt) {
        const joined = attempt.request();
        tx.join(joined.compare, joined.success);
      }
      // A rolled-back txn must write nothing: throw away this attempt's writes.
      if (errors.length > 0) tx.abandon();
      return { results, errors };
    };
    const { result, index } = await this.store.write(build, { settle: participant ? (revision, committed) => participant.settle(revision, committed) : undefined });
    if (result.errors.length > 0) return { ok: false, errors: result.errors };
    committed?.finish(index);
    const results = result.results.map((r): TxnResult<R> => {
      if (!('KV' in r)) return r;
      return { KV: r.value || r.KV.Value === null ? { ...r.KV } : { ...r.KV, Value: null } };
    });
    return { ok: true, index, results };
  }
}
