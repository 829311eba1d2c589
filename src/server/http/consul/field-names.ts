/**
 * Consul reads request bodies with Go's encoding/json, which matches a JSON key to a struct field
 * exactly or, failing that, without regard to case: `{"ttl": "10s", "name": "x"}` is a session
 * create with TTL and Name, and clients in the wild rely on it. The Consul routes do the same
 * before validation: each key of a known struct is renamed to the field it matches, through
 * nested structs and lists of them. Keys of maps (Meta, Header, TaggedAddresses) are the user's
 * and stay as sent; keys matching no field are left for the validator to name.
 *
 * By hand because the rule is Go's (a per-struct, case-folded match) and no JSON library here
 * has it; TypeBox and ajv match keys exactly.
 */
import type { TSchema } from '@sinclair/typebox';

/**
 * The field names of a Consul request struct: each canonical name, with the field names of its
 * value when that is a struct or a list of structs, or `null` for anything else (a scalar, a
 * list of scalars, a map whose keys are the user's).
 */
export interface FieldNames {
  readonly [name: string]: FieldNames | null;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The field names of a Consul route's body, when it has no TypeBox body schema to take them from. */
    consulFields?: FieldNames;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `value` with every key renamed to the field of `names` it matches as Go's encoding/json would; a list is each element. */
export function foldFieldNames(value: unknown, names: FieldNames): unknown {
  if (Array.isArray(value)) return value.map((v) => foldFieldNames(v, names));
  if (!isObject(value)) return value;
  const byFold = new Map(Object.keys(names).map((n) => [n.toLowerCase(), n]));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    const name = key in names ? key : (byFold.get(key.toLowerCase()) ?? key);
    const nested = Object.hasOwn(names, name) ? names[name] : null;
    // As in Go, when two keys match one field the later one wins.
    out[name] = nested ? foldFieldNames(v, nested) : v;
  }
  return out;
}

/** The field names a TypeBox body schema declares: its properties, through lists and unions. */
export function fieldNamesOf(schema: TSchema): FieldNames | null {
  if (Array.isArray(schema.anyOf)) {
    const merged: Record<string, FieldNames | null> = {};
    for (const s of schema.anyOf as TSchema[]) Object.assign(merged, fieldNamesOf(s) ?? {});
    return Object.keys(merged).length ? merged : null;
  }
  if (schema.type === 'array' && schema.items) return fieldNamesOf(schema.items as TSchema);
  if (schema.type === 'object' && isObject(schema.properties)) {
    const out: Record<string, FieldNames | null> = {};
    for (const [name, s] of Object.entries(schema.properties as Record<string, TSchema>)) out[name] = fieldNamesOf(s);
    return out;
  }
  return null;
}

/** A check as the agent's service registration takes it (Consul's AgentServiceCheck). */
const AGENT_CHECK: FieldNames = Object.fromEntries(
  [
    'ID', 'CheckID', 'Name', 'ServiceID', 'Args', 'ScriptArgs', 'DockerContainerID', 'Shell', 'Interval', 'Timeout', 'TTL', 'HTTP',
    'Method', 'Body', 'DisableRedirects', 'TCP', 'TCPUseTLS', 'UDP', 'Status', 'Notes', 'TLSServerName', 'TLSSkipVerify', 'GRPC',
    'GRPCUseTLS', 'H2PING', 'H2PingUseTLS', 'AliasNode', 'AliasService', 'OSService', 'SuccessBeforePassing', 'FailuresBeforeWarning',
    'FailuresBeforeCritical', 'DeregisterCriticalServiceAfter', 'OutputMaxSize', 'Header',
  ].map((n) => [n, null]),
);

/** `PUT /v1/agent/service/register` (Consul's AgentServiceRegistration). */
export const SERVICE_REGISTRATION: FieldNames = {
  ...Object.fromEntries(
    ['ID', 'Name', 'Tags', 'Port', 'Address', 'SocketPath', 'TaggedAddresses', 'EnableTagOverride', 'Meta', 'Kind', 'Proxy', 'Connect', 'Namespace', 'Partition', 'Locality'].map((n) => [n, null]),
  ),
  Weights: { Passing: null, Warning: null },
  Check: AGENT_CHECK,
  Checks: AGENT_CHECK,
};

/** A catalog service in a txn (Consul's AgentService). */
const TXN_SERVICE: FieldNames = {
  ...Object.fromEntries(['ID', 'Service', 'Tags', 'Address', 'TaggedAddresses', 'Meta', 'Port', 'Kind', 'EnableTagOverride', 'CreateIndex', 'ModifyIndex', 'Namespace', 'Partition'].map((n) => [n, null])),
  Weights: { Passing: null, Warning: null },
};

/** A catalog check in a txn (Consul's HealthCheck, its Definition a HealthCheckDefinition). */
const TXN_CHECK: FieldNames = {
  ...Object.fromEntries(
    ['Node', 'CheckID', 'Name', 'Status', 'Notes', 'Output', 'ServiceID', 'ServiceName', 'ServiceTags', 'Type', 'CreateIndex', 'ModifyIndex', 'Namespace', 'Partition'].map((n) => [n, null]),
  ),
  Definition: AGENT_CHECK,
};

/** One operation of `PUT /v1/txn` (Consul's TxnOp); the body is a list of them. */
export const TXN_OP: FieldNames = {
  KV: Object.fromEntries(['Verb', 'Key', 'Value', 'Flags', 'Index', 'Session', 'Namespace', 'Partition'].map((n) => [n, null])),
  Node: { Verb: null, Node: { ID: null, Node: null, Address: null, Datacenter: null, TaggedAddresses: null, Meta: null, Partition: null } },
  Service: { Verb: null, Node: null, Service: TXN_SERVICE },
  Check: { Verb: null, Check: TXN_CHECK },
};
