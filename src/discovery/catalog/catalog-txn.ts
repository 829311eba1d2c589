/**
 * One attempt at the catalog operations of a Consul `/v1/txn`, over the state view: it reads
 * instances (remembering the revision of each row read), keeps what it writes in an overlay, and
 * hands back the compares and writes that commit it with the txn's KV writes, all or nothing.
 * What each verb does and answers follows Consul's txn (`state/txn.go`): a missing service or
 * check fails `get` and the `cas` verbs, `delete` of a missing one is a no-op.
 */
import type { CheckState, ServiceInstance } from '../../model/index.ts';
import { keyOf, type Compare, type Op, type StateView } from '../../state/index.ts';
import type { Catalog } from './catalog.ts';
import type { CatalogTxnOp } from './catalog-txn-ops.ts';
import { consulCheck, consulNode, consulService } from './consul-json.ts';

/** A result of a catalog op, in Consul's shape: `{Node}`, `{Service}` or `{Check}`. */
export type CatalogTxnResult = Record<string, Record<string, unknown>>;

/** What one op answers: results, or why the txn rolls back. */
export type CatalogOpOutcome = { ok: true; results: CatalogTxnResult[] } | { ok: false; what: string };

/** One attempt at the catalog ops of a txn; see the file comment. */
export class CatalogTxnAttempt {
  readonly #reads = new Map<string, number>();
  readonly #overlay = new Map<string, ServiceInstance | null>();
  /** Results that report a row this attempt writes: their ModifyIndex is the commit's revision. */
  readonly #pending: { result: Record<string, unknown>; id: string }[] = [];

  constructor(
    private readonly view: StateView,
    private readonly catalog: Catalog,
  ) {}

  /** Run one op against the view and what this attempt wrote before it. */
  run(op: CatalogTxnOp): CatalogOpOutcome {
    if (op.kind === 'Node') return this.#node(op.id, op.name);
    if (op.kind === 'Service') return this.#service(op);
    return this.#check(op);
  }

  /** Compares on every row read, writes of every row changed. */
  request(): { compare: Compare[]; success: Op[] } {
    const compare: Compare[] = [...this.#reads].map(([key, value]) => ({ key, target: 'modRevision', op: '=', value }));
    const success: Op[] = [];
    for (const [id, value] of this.#overlay) {
      const key = keyOf('services', id);
      if (value) success.push({ type: 'put', key, value: JSON.stringify(value) });
      else if (this.#reads.get(key) !== 0) success.push({ type: 'delete', key });
    }
    return { compare, success };
  }

  /** Fill in the ModifyIndex of results about rows this attempt wrote, once committed at `revision`. */
  finish(revision: number): void {
    for (const { result, id } of this.#pending) if (this.#overlay.get(id)) result.ModifyIndex = revision;
  }

  #instance(id: string): ServiceInstance | undefined {
    const key = keyOf('services', id);
    if (!this.#reads.has(key)) this.#reads.set(key, this.view.modRevision('services', id));
    if (this.#overlay.has(id)) return this.#overlay.get(id) ?? undefined;
    return this.view.serviceInstance(id);
  }

  /** The ModifyIndex an op compares with: the view's, or 0 for a row this attempt created. */
  #modifyIndex(inst: ServiceInstance): number {
    return this.view.modRevision('services', inst.id) || inst.createIndex;
  }

  #node(id: string, name: string): CatalogOpOutcome {
    const nodes = this.catalog.nodes();
    // Consul looks a node up by ID first, then by name.
    const node = (id ? nodes.find((n) => n.id === id) : undefined) ?? (name ? nodes.find((n) => n.name === name) : undefined);
    if (!node) return { ok: false, what: `node "${name || id}" doesn't exist` };
    return { ok: true, results: [{ Node: consulNode(node) }] };
  }

  #service(op: Extract<CatalogTxnOp, { kind: 'Service' }>): CatalogOpOutcome {
    const found = this.#instance(op.id);
    const existing = found && found.nodeName === op.node ? found : undefined;
    const where = `service "${op.id}" on node "${op.node}"`;
    const stale = op.index === 0 ? (existing !== undefined) : existing === undefined || this.#modifyIndex(existing) !== op.index;
    switch (op.verb) {
      case 'get':
        return existing ? { ok: true, results: [this.#serviceResult(existing)] } : { ok: false, what: `${where} doesn't exist` };
      case 'set':
      case 'cas': {
        if (op.verb === 'cas' && stale) return { ok: false, what: `failed to set ${where}, index is stale` };
        if (found && found.source.kind !== 'external') return { ok: false, what: `cannot set ${where}: an allocation owns that id` };
        const value: ServiceInstance = { ...op.instance, checks: found?.checks ?? [], createIndex: found?.createIndex ?? this.view.index };
        this.#overlay.set(op.id, value);
        return { ok: true, results: [this.#serviceResult(value)] };
      }
      case 'delete':
      case 'delete-cas': {
        if (op.verb === 'delete-cas' && (existing === undefined || this.#modifyIndex(existing) !== op.index)) {
          return { ok: false, what: `failed to delete ${where}, index is stale` };
        }
        if (!existing) return { ok: true, results: [] };
        if (existing.source.kind !== 'external') return { ok: false, what: `cannot delete ${where}: an allocation owns it (stop its job instead)` };
        this.#overlay.set(op.id, null);
        return { ok: true, results: [] };
      }
    }
  }

  #check(op: Extract<CatalogTxnOp, { kind: 'Check' }>): CatalogOpOutcome {
    const where = `check "${op.id}" on node "${op.node}"`;
    const holder = this.#holderOf(op.id, op.node);
    const existing = holder?.checks.find((c) => c.id === op.id);
    const index = holder ? this.#modifyIndex(holder) : 0;
    switch (op.verb) {
      case 'get':
        return holder && existing ? { ok: true, results: [this.#checkResult(holder, existing)] } : { ok: false, what: `${where} doesn't exist` };
      case 'set':
      case 'cas': {
        if (op.verb === 'cas' && (op.index === 0 ? existing !== undefined : existing === undefined || index !== op.index)) {
          return { ok: false, what: `failed to set ${where}, index is stale` };
        }
        if (holder && existing && holder.id !== op.serviceId) return { ok: false, what: `cannot set ${where}: it belongs to service "${holder.id}", not "${op.serviceId}"` };
        const target = this.#instance(op.serviceId);
        if (!target || target.nodeName !== op.node) return { ok: false, what: `cannot set ${where}: service "${op.serviceId}" doesn't exist on that node (set the service first)` };
        if (target.source.kind !== 'external') return { ok: false, what: `cannot set ${where}: service "${op.serviceId}" is owned by an allocation, whose checks its job defines` };
        const check: CheckState = existing && existing.status === op.check.status ? { ...op.check, criticalSince: existing.criticalSince } : op.check;
        const checks = target.checks.some((c) => c.id === op.id) ? target.checks.map((c) => (c.id === op.id ? check : c)) : [...target.checks, check];
        const value = { ...target, checks };
        this.#overlay.set(target.id, value);
        return { ok: true, results: [this.#checkResult(value, check)] };
      }
      case 'delete':
      case 'delete-cas': {
        if (op.verb === 'delete-cas' && (existing === undefined || index !== op.index)) return { ok: false, what: `failed to delete ${where}, index is stale` };
        if (!holder || !existing) return { ok: true, results: [] };
        if (holder.source.kind !== 'external') return { ok: false, what: `cannot delete ${where}: it belongs to an allocation's service, whose checks its job defines` };
        this.#overlay.set(holder.id, { ...holder, checks: holder.checks.filter((c) => c.id !== op.id) });
        return { ok: true, results: [] };
      }
    }
  }

  /** The instance on `node` holding check `id`, as this attempt sees it. */
  #holderOf(id: string, node: string): ServiceInstance | undefined {
    for (const [, inst] of this.#overlay) if (inst && inst.nodeName === node && inst.checks.some((c) => c.id === id)) return inst;
    const m = /^service:(.+?)(?::\d+)?$/.exec(id);
    const candidates = m ? [m[1], id.slice('service:'.length)] : [];
    for (const sid of candidates) {
      const inst = this.#instance(sid);
      if (inst && inst.nodeName === node && inst.checks.some((c) => c.id === id)) return inst;
    }
    const inst = this.view.serviceInstances().find((i) => i.nodeName === node && i.checks.some((c) => c.id === id));
    if (!inst) return undefined;
    const seen = this.#instance(inst.id);
    return seen?.checks.some((c) => c.id === id) ? seen : undefined;
  }

  #serviceResult(inst: ServiceInstance): CatalogTxnResult {
    const result = consulService(inst, this.#modifyIndex(inst));
    this.#pending.push({ result, id: inst.id });
    return { Service: result };
  }

  #checkResult(inst: ServiceInstance, check: CheckState): CatalogTxnResult {
    const result = consulCheck(inst, check, this.#modifyIndex(inst));
    this.#pending.push({ result, id: inst.id });
    return { Check: result };
  }
}
