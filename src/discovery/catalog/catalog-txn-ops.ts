/**
 * The Node, Service and Check operations of Consul's `PUT /v1/txn`, checked and turned into the
 * catalog's terms before the transaction runs, so bad input gets a 400 naming the operation and
 * changes nothing. berth keeps external registrations on the server's node and every check on a
 * service, so only what maps onto that is accepted: see `CATALOG_TXN_VERBS`.
 */
import { BerthError, type CheckState, type ErrorDetail, type ServiceInstance } from '../../model/index.ts';
import { checkFromConsul, instanceFromConsul } from './external.ts';
import type { LocalNode } from './registry.ts';

/** The verbs berth runs per kind. Node writes are left out: berth's nodes are its agents. */
export const CATALOG_TXN_VERBS = {
  Node: ['get'],
  Service: ['get', 'set', 'cas', 'delete', 'delete-cas'],
  Check: ['get', 'set', 'cas', 'delete', 'delete-cas'],
} as const;

/** Verbs Consul has that berth refuses, with the reason given. */
const REFUSED: Record<string, string> = {
  'Node.set': "berth's nodes are its agents, which register themselves (run `berth agent` on the host)",
  'Node.cas': "berth's nodes are its agents, which register themselves (run `berth agent` on the host)",
  'Node.delete': "berth's nodes are its agents: stop the agent, or drain the node with `berth node drain`",
  'Node.delete-cas': "berth's nodes are its agents: stop the agent, or drain the node with `berth node drain`",
};

/** A catalog operation of a `/v1/txn`, checked. */
export type CatalogTxnOp =
  | { kind: 'Node'; verb: 'get'; id: string; name: string }
  | { kind: 'Service'; verb: 'get' | 'delete' | 'delete-cas'; node: string; id: string; index: number }
  /** `instance` has no checks: a service set keeps the checks it had. */
  | { kind: 'Service'; verb: 'set' | 'cas'; node: string; id: string; index: number; instance: ServiceInstance }
  | { kind: 'Check'; verb: 'get' | 'delete' | 'delete-cas'; node: string; id: string; index: number }
  | { kind: 'Check'; verb: 'set' | 'cas'; node: string; id: string; index: number; serviceId: string; check: CheckState };

type Json = Record<string, unknown>;

function isObj(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** True for an operation object whose kind is a catalog one (`Node`, `Service`, `Check`). */
export function isCatalogTxnOp(raw: unknown): boolean {
  return isObj(raw) && ('Node' in raw || 'Service' in raw || 'Check' in raw);
}

/** Where catalog operations land: the server's node, and the time new checks are stamped with. */
export interface CatalogTxnContext {
  local: LocalNode;
  now: number;
}

/** Check operation `i` of a txn body; throws invalid_input naming the op, its verb and the path. */
export function parseCatalogTxnOp(raw: Json, i: number, ctx: CatalogTxnContext): CatalogTxnOp {
  const kind = (['Node', 'Service', 'Check'] as const).find((k) => k in raw)!;
  const body = raw[kind];
  const read = opReader(i, kind, body);
  if (!isObj(body)) throw read.bad('', 'must be an object with Verb');
  const verb = body.Verb;
  if (typeof verb !== 'string' || verb === '') throw read.bad('Verb', 'is required');
  const refused = REFUSED[`${kind}.${verb}`];
  if (refused) throw read.bad('Verb', `"${verb}" is not supported: ${refused}`);
  const verbs: readonly string[] = CATALOG_TXN_VERBS[kind];
  if (!verbs.includes(verb)) throw read.bad('Verb', `"${verb}" is not a ${kind} verb: use one of ${verbs.join(', ')}`);
  if (kind === 'Node') return parseNodeOp(read, body);
  if (kind === 'Service') return parseServiceOp(read, body, verb, ctx);
  return parseCheckOp(read, body, verb, ctx);
}

/** How one operation's fields are read: each problem an invalid_input naming the op and the path. */
interface OpReader {
  bad(path: string, message: string): BerthError;
  /** `ModifyIndex` of `obj`, 0 when absent. */
  index(obj: Json, path: string): number;
  /** A string field; '' when absent and not required. */
  text(obj: Json, key: string, path: string, required: boolean): string;
}

function opReader(i: number, kind: string, body: unknown): OpReader {
  const at = `[${i}].${kind}`;
  const bad = (path: string, message: string): BerthError =>
    new BerthError('invalid_input', `Cannot run the transaction: operation ${i} (${kind} ${String(isObj(body) ? body.Verb : '')}): ${path ? `${path} ` : ''}${message}`, [{ path: `${at}${path ? `.${path}` : ''}`, message }]);
  return {
    bad,
    index(obj, path) {
      const v = obj.ModifyIndex ?? 0;
      if (!Number.isSafeInteger(v) || (v as number) < 0) throw bad(path, 'must be a non-negative integer');
      return v as number;
    },
    text(obj, key, path, required) {
      const v = obj[key];
      if (v === undefined || v === null || v === '') {
        if (required) throw bad(path, 'is required');
        return '';
      }
      if (typeof v !== 'string') throw bad(path, 'must be a string');
      return v;
    },
  };
}

function parseNodeOp(read: OpReader, body: Json): CatalogTxnOp {
  const node = body.Node;
  if (!isObj(node)) throw read.bad('Node', 'is required: an object with ID or Node (the name)');
  const id = read.text(node, 'ID', 'Node.ID', false);
  const name = read.text(node, 'Node', 'Node.Node', false);
  if (!id && !name) throw read.bad('Node', 'needs ID or Node (the name)');
  return { kind: 'Node', verb: 'get', id, name };
}

function parseServiceOp(read: OpReader, body: Json, verb: string, { local, now }: CatalogTxnContext): CatalogTxnOp {
  const node = read.text(body, 'Node', 'Node', true);
  const svc = body.Service;
  if (!isObj(svc)) throw read.bad('Service', 'is required: an object with ID (and Service, the name, to set one)');
  const idx = read.index(svc, 'Service.ModifyIndex');
  if (verb === 'set' || verb === 'cas') {
    if (node !== local.name) throw read.bad('Node', `is "${node}": berth registers external services on its server's node "${local.name}" only`);
    if (svc.Checks !== undefined || svc.Check !== undefined) throw read.bad('Service.Checks', 'are not set by a Service operation: use Check operations');
    const instance = wrap(read.bad, 'Service', () =>
      instanceFromConsul({ Name: svc.Service, ID: svc.ID, Tags: svc.Tags, Address: svc.Address, Meta: svc.Meta, Port: svc.Port }, local, now),
    );
    return { kind: 'Service', verb, node, id: instance.id, index: idx, instance };
  }
  return { kind: 'Service', verb: verb as 'get' | 'delete' | 'delete-cas', node, id: read.text(svc, 'ID', 'Service.ID', true), index: idx };
}

function parseCheckOp(read: OpReader, body: Json, verb: string, { local, now }: CatalogTxnContext): CatalogTxnOp {
  const check = body.Check;
  if (!isObj(check)) throw read.bad('Check', 'is required: an object with Node and CheckID');
  const node = read.text(check, 'Node', 'Check.Node', true);
  const id = read.text(check, 'CheckID', 'Check.CheckID', true);
  const idx = read.index(check, 'Check.ModifyIndex');
  if (verb !== 'set' && verb !== 'cas') return { kind: 'Check', verb: verb as 'get' | 'delete' | 'delete-cas', node, id, index: idx };
  if (node !== local.name) throw read.bad('Check.Node', `is "${node}": berth keeps the checks of external services on its server's node "${local.name}" only`);
  const serviceId = read.text(check, 'ServiceID', 'Check.ServiceID', false);
  if (!serviceId) throw read.bad('Check.ServiceID', "is required: berth keeps every check on a service (register the service first)");
  const parsed = checkDefinition(read, check);
  const status = parsed.status;
  const checkState: CheckState = {
    id,
    name: read.text(check, 'Name', 'Check.Name', false) || id,
    type: parsed.spec.type,
    status,
    output: read.text(check, 'Output', 'Check.Output', false),
    notes: read.text(check, 'Notes', 'Check.Notes', false),
    spec: parsed.spec,
    updatedAt: now,
    ...(status === 'critical' ? { criticalSince: now } : {}),
  };
  return { kind: 'Check', verb, node, id, index: idx, serviceId, check: checkState };
}

/** The check's `Definition`, in Consul's terms, with the status the operation sets. */
function checkDefinition(read: OpReader, check: Json): NonNullable<ReturnType<typeof checkFromConsul>> {
  const definition = check.Definition ?? {};
  if (!isObj(definition)) throw read.bad('Check.Definition', 'must be an object');
  const problems: ErrorDetail[] = [];
  const kinds = ['HTTP', 'TCP', 'GRPC', 'TTL', 'Args'];
  // A check with no definition only holds the status the txn sets: a TTL check that never expires.
  const hasKind = kinds.some((k) => Object.keys(definition).some((d) => d.toLowerCase() === k.toLowerCase()));
  const parsed = checkFromConsul(hasKind ? { ...definition, Status: check.Status } : { TTL: '1s', Status: check.Status }, `Check.Definition`, problems);
  if (problems.length > 0 || !parsed) throw read.bad(problems[0]?.path ?? 'Check.Definition', problems[0]?.message ?? 'is not a check definition');
  if (!hasKind) delete parsed.spec.ttlMs;
  return parsed;
}

/** Runs a parser that throws invalid_input, re-throwing its first problem under this op. */
function wrap<T>(bad: (path: string, message: string) => BerthError, prefix: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (!(err instanceof BerthError) || err.code !== 'invalid_input') throw err;
    const first = err.details?.[0];
    const path = first?.path === 'Name' ? 'Service' : (first?.path ?? '');
    throw bad(path ? `${prefix}.${path}` : prefix, first?.message ?? err.message);
  }
}
