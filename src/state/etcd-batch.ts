/**
 * Group commit for the etcd backend: write txns that arrive while others are in flight are sent
 * together as one etcd txn (their compares joined, their writes joined), so a server under many
 * concurrent writes (KV PUTs from many clients) pays one raft round for many of them. Written by
 * hand: etcd has no batching API and the client does none; this is a queue and a loop.
 *
 * Only txns whose writes are plain puts and deletes join a batch, and never two that write the
 * same key (etcd refuses a key written twice in one txn). A joint txn whose compares did not all
 * hold, or that etcd refused for what one of them asked (an expired lease, a size limit), is not
 * an answer for any of them: each is sent again alone and answered by its own outcome. The txns
 * of one batch share its revision; they were concurrent, so etcd could have ordered them anyway.
 */
import type { Op, TxnRequest, TxnResult } from './backend.ts';

/** How many joint txns may be in flight at once; more writers queue and join the next. */
const MAX_IN_FLIGHT = 2;
/** etcd's default --max-txn-ops is 128: a joint txn stays within it in compares and in writes. */
const MAX_OPS = 128;
/** A joint txn stays well under etcd's default --max-request-bytes (1.5 MiB). */
const MAX_BYTES = 1024 * 1024;

interface Queued {
  request: TxnRequest;
  keys: string[];
  bytes: number;
  resolve: (result: TxnResult) => void;
  reject: (err: unknown) => void;
}

/** What sends one txn to etcd, and says whether a failed send may have been applied. */
export interface TxnSender {
  send(request: TxnRequest): Promise<TxnResult>;
  /** True when etcd refused the txn for what it asked (nothing applied), so its parts may be sent alone. */
  refused(err: unknown): boolean;
}

/** Joins concurrent write txns into as few etcd txns as it can. */
export class TxnBatcher {
  private queue: Queued[] = [];
  private inFlight = 0;

  constructor(private readonly sender: TxnSender) {}

  /** Whether a txn may join a batch: plain puts and deletes, nothing read back. */
  static joinable(request: TxnRequest): boolean {
    return request.success.length > 0 && request.success.every((op) => op.type === 'put' || op.type === 'delete');
  }

  /** Commit the txn, alone or with others queued beside it. */
  submit(request: TxnRequest): Promise<TxnResult> {
    return new Promise((resolve, reject) => {
      const keys = request.success.map((op) => (op as Extract<Op, { key: string }>).key);
      const bytes = request.success.reduce((n, op) => n + (op as { key: string }).key.length + (op.type === 'put' ? op.value.length : 0), 0);
      this.queue.push({ request, keys, bytes, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < MAX_IN_FLIGHT && this.queue.length > 0) {
      const batch = this.take();
      this.inFlight++;
      void this.run(batch).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  /** The longest run of queued txns, in order, that fit one etcd txn; one that does not fit waits. */
  private take(): Queued[] {
    const batch: Queued[] = [];
    const written = new Set<string>();
    let compares = 0;
    let writes = 0;
    let bytes = 0;
    const rest: Queued[] = [];
    for (const q of this.queue) {
      const fits =
        batch.length === 0 ||
        (compares + q.request.compare.length <= MAX_OPS && writes + q.keys.length <= MAX_OPS && bytes + q.bytes <= MAX_BYTES && !q.keys.some((k) => written.has(k)));
      if (!fits) {
        rest.push(q);
        continue;
      }
      batch.push(q);
      for (const k of q.keys) written.add(k);
      compares += q.request.compare.length;
      writes += q.keys.length;
      bytes += q.bytes;
    }
    this.queue = rest;
    return batch;
  }

  private async run(batch: Queued[]): Promise<void> {
    if (batch.length === 1) return this.alone(batch[0]);
    let result: TxnResult;
    try {
      result = await this.sender.send({ compare: batch.flatMap((q) => q.request.compare), success: batch.flatMap((q) => q.request.success) });
    } catch (err) {
      if (this.sender.refused(err)) return void (await Promise.all(batch.map((q) => this.alone(q))));
      for (const q of batch) q.reject(err);
      return;
    }
    if (!result.succeeded) return void (await Promise.all(batch.map((q) => this.alone(q))));
    for (const q of batch) q.resolve({ succeeded: true, revision: result.revision, responses: q.request.success.map(() => null) });
  }

  private async alone(q: Queued): Promise<void> {
    try {
      q.resolve(await this.sender.send(q.request));
    } catch (err) {
      q.reject(err);
    }
  }
}
