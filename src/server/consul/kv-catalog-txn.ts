/**
 * Consul's `PUT /v1/txn` with every kind of operation: KV ops through the KV service, Node,
 * Service and Check ops through a catalog attempt over the state view, committed together in one
 * backend txn, so all of them apply or none.
 */
import { CatalogTxnAttempt, type Catalog, type CatalogTxnOp, type CatalogTxnResult } from '../../discovery/catalog/index.ts';
import type { KvService, TxnOp, TxnOutcome, TxnParticipant } from '../../kv/index.ts';
import { BerthError } from '../../model/index.ts';
import type { StateView } from '../../state/index.ts';

/** How long a txn waits for the state view to apply its own commit. */
const SETTLE_MS = 10_000;

/** Run a checked `/v1/txn` body (see `parseCatalogTxnOp` for the catalog ops). */
export function runConsulTxn(deps: { kv: KvService; view: StateView; catalog: Catalog }, ops: TxnOp<CatalogTxnOp>[]): Promise<TxnOutcome<CatalogTxnResult>> {
  const { kv, view, catalog } = deps;
  const participant: TxnParticipant<CatalogTxnOp, CatalogTxnResult> = {
    begin: () => new CatalogTxnAttempt(view, catalog),
    settle: async (revision, committed) => {
      // After a lost race the revision may be a write this view never sees (outside its prefix),
      // so the wait is short; a commit of catalog rows shows in the view, and must before the answer.
      const reached = await view.waitForIndex(revision, committed ? SETTLE_MS : 1000);
      if (committed && !reached) {
        throw new BerthError('timeout', `Cannot confirm the transaction at revision ${revision}: the state view did not apply it within ${SETTLE_MS} ms`);
      }
    },
  };
  return ops.some((op) => !('KV' in op)) ? kv.txn(ops, participant) : kv.txn(ops);
}
