/**
 * Policy documents: parsing, validation with a path for every problem, and the capabilities each
 * scope knows. Pure.
 *
 * A document (YAML or JSON) maps each scope to either a capability list, which applies to every
 * object of the scope, or to patterns and their capabilities:
 *
 *   description: deploys web, reads the rest
 *   jobs:
 *     "web*": [write]
 *     "*": [read]
 *   kv:
 *     "app/": [read, list]
 *   nodes: [read]
 */
import { parse as parseYaml } from 'yaml';
import { BerthError, type AclRule, type AclScope, type ErrorDetail } from '../model/index.ts';

/** The capabilities of each scope. `deny` is in every scope. */
export const CAPABILITIES: Readonly<Record<AclScope, readonly string[]>> = {
  jobs: ['read', 'write', 'dispatch', 'scale', 'alloc-logs', 'alloc-exec', 'alloc-lifecycle', 'deny'],
  nodes: ['read', 'write', 'deny'],
  agent: ['read', 'write', 'deny'],
  operator: ['read', 'write', 'deny'],
  kv: ['read', 'list', 'write', 'deny'],
  variables: ['read', 'list', 'write', 'deny'],
  services: ['read', 'write', 'deny'],
  events: ['read', 'deny'],
  sessions: ['read', 'write', 'deny'],
  acl: ['read', 'write', 'deny'],
};

/** What a capability brings with it: `write` on jobs is every job capability, as in Nomad. */
export const IMPLIED: Readonly<Partial<Record<AclScope, Readonly<Record<string, readonly string[]>>>>> = {
  jobs: { write: ['read', 'dispatch', 'scale', 'alloc-logs', 'alloc-exec', 'alloc-lifecycle'] },
  nodes: { write: ['read'] },
  agent: { write: ['read'] },
  operator: { write: ['read'] },
  kv: { write: ['read', 'list'], read: ['list'] },
  variables: { write: ['read', 'list'], read: ['list'] },
  services: { write: ['read'] },
  sessions: { write: ['read'] },
  acl: { write: ['read'] },
};

/** Scopes whose objects have no names: only the `*` pattern makes sense. */
const UNNAMED: ReadonlySet<AclScope> = new Set(['agent', 'operator', 'events', 'acl']);

/** Scopes whose patterns are path prefixes (`app/` matches `app/db/url`), as Consul's key_prefix. */
export const PREFIX_SCOPES: ReadonlySet<AclScope> = new Set(['kv', 'variables']);

const SCOPES = Object.keys(CAPABILITIES) as AclScope[];

/** A parsed, valid policy document. */
export interface PolicyDocument {
  description: string;
  rules: AclRule[];
}

/**
 * Parse a policy document, YAML or JSON (JSON is YAML). Throws `invalid_input` listing every
 * problem with its path (`jobs."web*"[1]: unknown capability "writ"; one of read, write, ...`).
 */
export function parsePolicy(source: string, where = 'policy'): PolicyDocument {
  let doc: unknown;
  try {
    doc = parseYaml(source);
  } catch (err) {
    throw new BerthError('invalid_input', `Cannot read ${where}: not YAML or JSON: ${(err as Error).message.split('\n')[0]}`, [
      { path: '', message: 'not YAML or JSON' },
    ]);
  }
  const problems: ErrorDetail[] = [];
  const rules = rulesOf(doc, problems);
  if (problems.length > 0) {
    const first = problems[0];
    throw new BerthError('invalid_input', `Invalid ${where}: ${first.path ? `${first.path}: ` : ''}${first.message}`, problems);
  }
  const description = (doc as { description?: string }).description ?? '';
  return { description, rules };
}

function rulesOf(doc: unknown, problems: ErrorDetail[]): AclRule[] {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    problems.push({ path: '', message: `must be a mapping of scopes (${SCOPES.join(', ')}) to rules` });
    return [];
  }
  const rules: AclRule[] = [];
  for (const [key, value] of Object.entries(doc)) {
    if (key === 'description') {
      if (typeof value !== 'string') problems.push({ path: 'description', message: 'must be a string' });
      continue;
    }
    if (!(SCOPES as string[]).includes(key)) {
      problems.push({ path: key, message: `unknown scope; one of ${SCOPES.join(', ')}, or description` });
      continue;
    }
    rules.push(...scopeRules(key as AclScope, value, problems));
  }
  if (rules.length === 0 && problems.length === 0) problems.push({ path: '', message: `grants nothing: give at least one scope (${SCOPES.join(', ')})` });
  return rules;
}

function scopeRules(scope: AclScope, value: unknown, problems: ErrorDetail[]): AclRule[] {
  if (typeof value === 'string' || Array.isArray(value)) {
    const capabilities = capabilityList(scope, value, scope, problems);
    return capabilities ? [{ scope, pattern: '*', capabilities }] : [];
  }
  if (value === null || typeof value !== 'object') {
    problems.push({ path: scope, message: 'must be a capability list or a mapping of name patterns to capability lists' });
    return [];
  }
  const rules: AclRule[] = [];
  for (const [pattern, caps] of Object.entries(value as Record<string, unknown>)) {
    const path = `${scope}.${JSON.stringify(pattern)}`;
    if (UNNAMED.has(scope) && pattern !== '*') {
      problems.push({ path, message: `${scope} objects have no names: use "*" or a plain capability list` });
      continue;
    }
    if ((pattern === '' && !PREFIX_SCOPES.has(scope)) || pattern.slice(0, -1).includes('*')) {
      problems.push({ path, message: 'a pattern is a name, a prefix ending in "*", or "*"' });
      continue;
    }
    const capabilities = capabilityList(scope, caps, path, problems);
    if (capabilities) rules.push({ scope, pattern, capabilities });
  }
  return rules;
}

function capabilityList(scope: AclScope, value: unknown, path: string, problems: ErrorDetail[]): string[] | undefined {
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.length === 0) {
    problems.push({ path, message: `must list capabilities: ${CAPABILITIES[scope].join(', ')}` });
    return undefined;
  }
  const known = CAPABILITIES[scope];
  let ok = true;
  list.forEach((cap, i) => {
    if (typeof cap !== 'string' || !known.includes(cap)) {
      ok = false;
      problems.push({ path: `${path}[${i}]`, message: `unknown capability ${JSON.stringify(cap)}; one of ${known.join(', ')}` });
    }
  });
  return ok ? [...new Set(list as string[])] : undefined;
}

/** Whether a policy name is one berth accepts: letters, digits, `-` and `_`, 1-128 characters. */
export function validPolicyName(name: string): boolean {
  return /^[A-Za-z0-9_-]{1,128}$/.test(name);
}
