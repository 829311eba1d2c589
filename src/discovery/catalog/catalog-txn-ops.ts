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

/** Check operation `i` of a txn body; throws invalid_input naming the op, its verb and the path. */
export function parseCatalogTxnOp(raw: Json, i: number, local: LocalNode, now: number): CatalogTxnOp {
  const kind = (['Node', 'Service', 'Check'] as const).find((k) => k in raw)!;
  const body = raw[kind];
  const at = `[${i}].${kind}`;
  const bad = (path: string, message: string): BerthError =>
    new BerthError('invalid_input', `Cannot run the transaction: operation ${i} (${kind} ${String(isObj(body) ? body.Verb : '')}): ${path ? `${path} ` : ''}${message}`, [{ path: `${at}${path ? `.${path}` : ''}`, message }]);
  if (!isObj(body)) throw bad('', 'must be an object with Verb');
  const verb = body.Verb;
  if (typeof verb !== 'string' || verb === '') throw bad('Verb', 'is required');
  const refused = REFUSED[`${kind}.${verb}`];
  if (refused) throw bad('Verb', `"${verb}" is not supported: ${refused}`);
  const verbs: readonly string[] = CATALOG_TXN_VERBS[kind];
  if (!verbs.includes(verb)) throw bad('Verb', `"${verb}" is not a ${kind} verb: use one of ${verbs.join(', ')}`);
  const index = (obj: Json, path: string): number => {
    const v = obj.ModifyIndex ?? 0;
    if (!Number.isSafeInteger(v) || (v as number) < 0) throw bad(path, 'must be a non-negative integer');
    return v as number;
  };
  const text = (obj: Json, key: string, path: string, required: boolean): string => {
    const v = obj[key];
    if (v === undefined || v === null || v === '') {
      if (required) throw bad(path, 'is required');
      return '';
    }
    if (typeof v !== 'string') throw bad(path, 'must be a string');
    return v;
  };

  if (kind === 'Node') {
    const node = body.Node;
    if (!isObj(node)) throw bad('Node', 'is required: an object with ID or Node (the name)');
    const id = text(node, 'ID', 'Node.ID', false);
    const name = text(node, 'Node', 'Node.Node', false);
    if (!id && !name) throw bad('Node', 'needs ID or Node (the name)');
    return { kind, verb: 'get', id, name };
  }

  if (kind === 'Service') {
    const node = text(body, 'Node', 'Node', true);
    const svc = body.Service;
    if (!isObj(svc)) throw bad('Service', 'is required: an object with ID (and Service, the name, to set one)');
    const idx = index(svc, 'Service.ModifyIndex');
    if (verb === 'set' || verb === 'cas') {
      if (node !== local.name) throw bad('Node', `is "${node}": berth registers external services on its server's node "${local.name}" only`);
      if (svc.Checks !== undefined || svc.Check !== undefined) throw bad('Service.Checks', 'are not set by a Service operation: use Check operations');
      const instance = wrap(bad, 'Service', () =>
        instanceFromConsul({ Name: svc.Service, ID: svc.ID, Tags: svc.Tags, Address: svc.Address, Meta: svc.Meta, Port: svc.Port }, local, now),
      );
      return { kind, verb, node, id: instance.id, index: idx, instance };
    }
    return { kind, verb: verb as 'get' | 'delete' | 'delete-cas', node, id: text(svc, 'ID', 'Service.ID', true), index: idx };
  }

  const check = body.Check;
  if (!isObj(check)) throw bad('Check', 'is required: an object with Node and CheckID');
  const node = text(check, 'Node', 'Check.Node', true);
  const id = text(check, 'CheckID', 'Check.CheckID', true);
  const idx = index(check, 'Check.ModifyIndex');
  if (verb !== 'set' && verb !== 'cas') return { kind, verb: verb as 'get' | 'delete' | 'delete-cas', node, id, index: idx };
  if (node !== local.name) throw bad('Check.Node', `is "${node}": berth keeps the checks of external services on its server's node "${local.name}" only`);
  const serviceId = text(check, 'ServiceID', 'Check.ServiceID', false);
  if (!serviceId) throw bad('Check.ServiceID', "is required: berth keeps every check on a service (register the service first)");
  const definition = check.Definition ?? {};
  if (!isObj(definition)) throw bad('Check.Definition', 'must be an object');
  const problems: ErrorDetail[] = [];
  const kinds = ['HTTP', 'TCP', 'GRPC', 'TTL', 'Args'];
  // A check with no definition only holds the status the txn sets: a TTL check that never expires.
  const hasKind = kinds.some((k) => Object.keys(definition).some((d) => d.toLowerCase() === k.toLowerCase()));
  const parsed = checkFromConsul(hasKind ? { ...definition, Status: check.Status } : { TTL: '1s', Status: check.Status }, `Check.Definition`, problems);
  if (problems.length > 0 || !parsed) throw bad(problems[0]?.path ?? 'Check.Definition', problems[0]?.message ?? 'is not a check definition');
  if (!hasKind) delete parsed.spec.ttlMs;
  const status = parsed.status;
  const checkState: CheckState = {
    id,
    name: text(check, 'Name', 'Check.Name', false) || id,
    type: parsed.spec.type,
    status,
    output: text(check, 'Output', 'Check.Output', false),
    notes: text(check, 'Notes', 'Check.Notes', false),
    spec: parsed.spec,
    updatedAt: now,
    ...(status === 'critical' ? { criticalSince: now } : {}),
  };
  return { kind, verb, node, id, index: idx, serviceId, check: checkState };
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
