/**
 * The ACL declarations routes put in their options (`config`), by kind of object. Every route
 * takes one of these; acl-guard.ts enforces them.
 */
import type { FastifyRequest } from 'fastify';
import { findByIdPrefix, type AclScope } from '../../model/index.ts';
import type { StateView } from '../../state/index.ts';
import { findCheck } from '../../discovery/catalog/index.ts';
import type { RouteAcl } from './acl-guard.ts';

type Config = { acl: RouteAcl };
type Cap = string | ((request: FastifyRequest) => string);

const param = (request: FastifyRequest, key = 'id'): string => (request.params as Record<string, string | undefined>)[key] ?? '';

/** Anyone may call it (Consul's `/v1/status/*`, the server list, ACL bootstrap). */
export const PUBLIC: Config = { acl: { public: true } };
/** Any valid token. */
export const ANY_TOKEN: Config = { acl: { anyToken: true } };
/** The handler authorizes each object it touches (`/v1/txn`). */
export const IN_HANDLER: Config = { acl: { inHandler: true } };
/** Node registration (acl-guard.ts). */
export const NODE_REGISTRATION: Config = { acl: { nodeRegistration: true } };

/** A capability on the scope as a whole, or on the object `name` picks. */
export function rule(scope: AclScope, cap: Cap, name?: (request: FastifyRequest) => string): Config {
  return { acl: { scope, cap, name } };
}

/**
 * A capability on objects the route picks: a list it filters with `mayRead`, or the object a body
 * names, which it checks with `authorize` once it has read it.
 */
export function perObject(scope: AclScope, cap = 'read'): Config {
  return { acl: { scope, cap, perObject: true } };
}

/** A capability on the job `:id`. */
export function onJob(cap: Cap): Config {
  return rule('jobs', cap, (r) => param(r));
}

/** `read` on the job `:id`, or the agent of a node that runs it (what the agent reads of the jobs it runs). */
export function onJobOrItsAgents(): Config {
  return { acl: { scope: 'jobs', cap: 'read', name: (r) => param(r), orAgentOfJob: (r) => param(r) } };
}

/**
 * A capability on the job of the allocation, evaluation or deployment `:id` (a full id or a
 * unique prefix). One that cannot be found is checked as the job "" (only `*` rules match), and the
 * route then answers its 404 to a caller allowed to see it.
 */
export function onAllocJob(view: StateView, cap: Cap): Config {
  return rule('jobs', cap, (r) => jobOf(() => view.alloc(param(r))?.jobId ?? findByIdPrefix(view.allocs(), param(r), { what: 'allocation' }).jobId));
}

export function onEvalJob(view: StateView, cap: Cap): Config {
  return rule('jobs', cap, (r) => jobOf(() => view.eval(param(r))?.jobId ?? findByIdPrefix(view.evals(), param(r), { what: 'evaluation' }).jobId));
}

export function onDeploymentJob(view: StateView, cap: Cap): Config {
  return rule('jobs', cap, (r) => jobOf(() => view.deployment(param(r))?.jobId ?? findByIdPrefix(view.deployments(), param(r), { what: 'deployment' }).jobId));
}

/** A capability on the node `:id` (by its name, which policies match). */
export function onNode(view: StateView, cap: Cap): Config {
  return rule('nodes', cap, (r) => view.node(param(r))?.name ?? param(r));
}

/** A capability on the object named by the parameter `key`. */
export function onNamed(scope: AclScope, cap: Cap, key = 'name'): Config {
  return rule(scope, cap, (r) => param(r, key));
}

/** The agent of node `:id` by its node secret; or a token with `orToken`. */
export function nodeAgent(orToken?: { scope: AclScope; cap: string }): Config {
  return { acl: { node: true, orToken } };
}

/** The service a catalog instance belongs to, which `services` rules name; the id itself when unknown. */
export function serviceOfInstance(view: StateView, instanceId: string): string {
  return view.serviceInstance(instanceId)?.name ?? instanceId;
}

/** The service a check belongs to (the catalog's own lookup); '' when unknown (only `*` rules match). */
export function serviceOfCheck(view: StateView, checkId: string): string {
  return findCheck(view, checkId)?.instance.name ?? '';
}

function jobOf(find: () => string): string {
  try {
    return find();
  } catch {
    return '';
  }
}
