/**
 * The StateBackend on an etcd v3 cluster, for servers that share state (HA). The contract is
 * etcd's own model, so every call maps onto one etcd RPC (concurrent write txns may share one:
 * `etcd-batch.ts`): ranges, txns, watches, leases and compaction keep etcd's semantics. Uses the `etcd3` gRPC client, which
 * spreads calls over the endpoints and moves off a member that stops answering.
 *
 * Unlike the in-process backends, calls made without awaiting the previous one reach etcd in any
 * order (etcd serves concurrent requests concurrently): await a write that another must follow.
 */
import { randomInt } from 'node:crypto';
import { noop } from 'cockatiel';
import type { Etcd3, IOptions } from 'etcd3';
import { BerthError } from '../model/index.ts';
import { CompactedError } from './backend.ts';
import type {
  KeySelector,
  Lease,
  RangeOptions,
  RangeResult,
  StateBackend,
  TxnRequest,
  TxnResult,
  WatchCallback,
  WatchOptions,
  Watcher,
} from './backend.ts';
import { fromEtcdError, keyRange, neverSent, retryableRead, toCompare, toOpResult, toRangeResult, toRequestOp } from './etcd-codec.ts';
import { TxnBatcher } from './etcd-batch.ts';
import { EtcdWatch } from './etcd-watch.ts';

/** Options of `EtcdBackend.open`. */
export interface EtcdBackendOptions {
  /** Deadline of each unary call. Default 5 000 ms. */
  callTimeoutMs?: number;
  /**
   * TLS to etcd (https:// endpoints): the CA of the members' certificates, and this client's
   * certificate chain and key for members run with --client-cert-auth; PEM. Default none.
   */
  credentials?: { rootCertificate: Buffer; certChain?: Buffer; privateKey?: Buffer };
}

/** Largest answer accepted from etcd (a range of a whole table). */
const MAX_MESSAGE_BYTES = 1024 * 1024 * 1024;

/** Tries of one call, and the pause before the second (doubled after). */
const CALL_ATTEMPTS = 4;
const RETRY_DELAY_MS = 50;

/** Deadline of a keepalive round trip, which runs on a stream without a call deadline. */
const KEEPALIVE_TIMEOUT_MS = 5000;

/** A StateBackend on etcd. */
export class EtcdBackend implements StateBackend {
  readonly name = 'etcd';
  private readonly watches = new Set<EtcdWatch>();
  /** The highest compact revision seen, for the message of a compacted read. */
  private compactRevision = 0;
  private closed = false;
  private readonly batcher = new TxnBatcher({
    send: (request) => this.sendTxn(request),
    // etcd refused the joint txn for what one part asked (a lease gone, a limit): nothing applied.
    refused: (err) => {
      const error = fromEtcdError(err, 'commit a txn');
      return error instanceof BerthError && (error.code === 'invalid_input' || error.code === 'not_found');
    },
  });

  private constructor(
    private readonly client: Etcd3,
    readonly endpoints: string[],
  ) {}

  /**
   * Connect to an etcd cluster (`http://host:port` client URLs) and check that it answers.
   * Throws `unavailable` when no endpoint does.
   */
  static async open(endpoints: string[], options: EtcdBackendOptions = {}): Promise<EtcdBackend> {
    if (endpoints.length === 0) throw new BerthError('invalid_input', 'Cannot open etcd state: no endpoints given; pass at least one client URL such as http://127.0.0.1:2379');
    const timeoutMs = options.callTimeoutMs ?? 5000;
    const clientOptions: IOptions = {
      hosts: endpoints,
      // Streams (watch, keepalive) live long; unary calls must not hang on a dead member.
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + timeoutMs }),
      // The client's default retries every failed call, writes included, even when the write may
      // have been applied; `call` below retries writes only when they never left.
      faultHandling: { global: noop },
      // A whole table read at startup can pass gRPC's default 4 MiB message limit by far.
      grpcOptions: { 'grpc.max_receive_message_length': MAX_MESSAGE_BYTES },
      ...(options.credentials ? { credentials: options.credentials } : {}),
    };
    // The client (gRPC, protobuf and etcd's .proto files) is loaded only here: a server on SQLite,
    // and every command that merely imports the state layer, would pay for it at start-up.
    const { Etcd3 } = await import('etcd3');
    const backend = new EtcdBackend(new Etcd3(clientOptions), endpoints);
    try {
      await backend.revision();
    } catch (err) {
      backend.client.close();
      throw new BerthError('unavailable', `Cannot open etcd state at ${endpoints.join(',')}: ${(err as Error).message}`);
    }
    return backend;
  }

  async range(selector: KeySelector, options: RangeOptions = {}): Promise<RangeResult> {
    this.ensureOpen('read');
    const revision = options.revision ?? 0;
    try {
      const request = { ...keyRange(selector), revision, limit: options.limit ?? 0, count_only: options.countOnly ?? false };
      const res = await this.call(true, () => this.client.kv.range(request));
      return toRangeResult(res, Number(res.header.revision));
    } catch (err) {
      throw fromEtcdError(err, revision ? `read revision ${revision}` : 'read', { requested: revision, compactRevision: this.compactRevision });
    }
  }

  /** Write txns sent while others are in flight join them (`etcd-batch.ts`); others go alone. */
  async txn(request: TxnRequest): Promise<TxnResult> {
    this.ensureOpen('commit a txn');
    try {
      return TxnBatcher.joinable(request) ? await this.batcher.submit(request) : await this.sendTxn(request);
    } catch (err) {
      throw fromEtcdError(err, 'commit a txn');
    }
  }

  /** One etcd txn RPC. */
  private async sendTxn(request: TxnRequest): Promise<TxnResult> {
    const txn = { compare: request.compare.map(toCompare), success: request.success.map(toRequestOp), failure: (request.failure ?? []).map(toRequestOp) };
    const res = await this.call(false, () => this.client.kv.txn(txn));
    const revision = Number(res.header.revision);
    return { succeeded: res.succeeded, revision, responses: res.responses.map((r) => toOpResult(r, revision)) };
  }

  async put(key: string, value: string, options: { lease?: number } = {}): Promise<number> {
    this.ensureOpen('write');
    try {
      const request = { key: Buffer.from(key), value: Buffer.from(value), lease: options.lease ?? 0 };
      const res = await this.call(false, () => this.client.kv.put(request));
      return Number(res.header.revision);
    } catch (err) {
      throw fromEtcdError(err, `put ${key}`);
    }
  }

  async delete(selector: KeySelector): Promise<{ deleted: number; revision: number }> {
    this.ensureOpen('write');
    try {
      const res = await this.call(false, () => this.client.kv.deleteRange(keyRange(selector)));
      return { deleted: Number(res.deleted), revision: Number(res.header.revision) };
    } catch (err) {
      throw fromEtcdError(err, 'delete');
    }
  }

  async watch(selector: KeySelector, callback: WatchCallback, options: WatchOptions = {}): Promise<Watcher> {
    this.ensureOpen('watch');
    const watch = new EtcdWatch({ client: this.client.watchClient, selector, callback, options, onCancel: (w) => this.watches.delete(w) });
    this.watches.add(watch);
    await watch.start();
    return watch;
  }

  async leaseGrant(ttlSeconds: number): Promise<Lease> {
    this.ensureOpen('grant a lease');
    if (!Number.isFinite(ttlSeconds) || ttlSeconds <= 0) {
      throw new BerthError('invalid_input', `Cannot grant a lease: TTL must be a positive number of seconds, got ${ttlSeconds}`);
    }
    // etcd picks 63-bit ids unless told one; ids are chosen here below 2^53 so they stay exact
    // JavaScript numbers (randomInt spans at most 2^48, hence two draws). Collisions are retried.
    for (let attempt = 0; ; attempt++) {
      const id = randomInt(1, 2 ** 48) * 32 + randomInt(0, 32);
      try {
        const res = await this.call(false, () => this.client.leaseClient.leaseGrant({ ID: id, TTL: Math.ceil(ttlSeconds) }));
        if (res.error) throw new Error(res.error);
        return { id: Number(res.ID), ttlSeconds: Number(res.TTL) };
      } catch (err) {
        if (attempt < 3 && /lease already exists/.test((err as Error).message)) continue;
        throw fromEtcdError(err, 'grant a lease');
      }
    }
  }

  async leaseKeepAlive(id: number): Promise<void> {
    this.ensureOpen('keep a lease alive');
    let ttl: number;
    try {
      ttl = await this.call(true, () => this.keepAliveOnce(id));
    } catch (err) {
      throw fromEtcdError(err, `keep lease ${id} alive`);
    }
    if (ttl <= 0) throw new BerthError('not_found', `Cannot keep lease ${id} alive: no such lease (it expired or was revoked)`);
  }

  async leaseRevoke(id: number): Promise<void> {
    this.ensureOpen('revoke a lease');
    try {
      await this.call(false, () => this.client.leaseClient.leaseRevoke({ ID: id }));
    } catch (err) {
      throw fromEtcdError(err, `revoke lease ${id}`);
    }
  }

  async compact(revision: number): Promise<void> {
    this.ensureOpen('compact');
    try {
      await this.call(false, () => this.client.kv.compact({ revision, physical: false }));
      this.compactRevision = Math.max(this.compactRevision, revision);
    } catch (err) {
      const error = fromEtcdError(err, `compact to revision ${revision}`, { requested: revision, compactRevision: this.compactRevision });
      throw error instanceof CompactedError ? new CompactedError(revision, Math.max(this.compactRevision, revision)) : error;
    }
  }

  async revision(): Promise<number> {
    this.ensureOpen('read');
    try {
      // Any linearizable read carries the store's revision in its header.
      const res = await this.call(true, () => this.client.kv.range({ key: Buffer.from([0]), count_only: true }));
      return Number(res.header.revision);
    } catch (err) {
      throw fromEtcdError(err, 'read the revision');
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const watch of [...this.watches]) watch.cancel();
    this.client.close();
  }

  /**
   * Run one etcd call, sending it again (to whichever member the client picks) after a failure that
   * is safe to repeat: any unavailability for a read, only a never-sent call for a write.
   */
  private async call<T>(idempotent: boolean, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        const again = idempotent ? retryableRead(err) : neverSent(err);
        if (!again || attempt >= CALL_ATTEMPTS || this.closed) throw err;
        await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY_MS * 2 ** (attempt - 1)));
      }
    }
  }

  /** One keepalive round trip on a short-lived stream; resolves with the TTL etcd granted (0: gone). */
  private async keepAliveOnce(id: number): Promise<number> {
    const stream = await this.client.leaseClient.leaseKeepAlive();
    try {
      return await new Promise<number>((resolve, reject) => {
        setTimeout(() => reject(new Error(`no keepalive answer within ${KEEPALIVE_TIMEOUT_MS} ms`)), KEEPALIVE_TIMEOUT_MS).unref();
        stream.on('data', (res) => resolve(Number(res.TTL)));
        stream.on('error', reject);
        stream.on('end', () => reject(new Error('the keepalive stream ended without an answer')));
        stream.write({ ID: id });
      });
    } finally {
      stream.cancel();
    }
  }

  private ensureOpen(what: string): void {
    if (this.closed) throw new BerthError('unavailable', `Cannot ${what}: the etcd state backend is closed`);
  }
}
