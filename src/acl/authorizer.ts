/**
 * The compiled form of a token's policies: one question, "may this token do CAP on NAME in
 * SCOPE?", answered from rules sorted most specific first. Pure.
 *
 * The most specific matching pattern decides (an exact name, then the longest prefix, then `*`),
 * as in Nomad and Consul; where several policies give the same pattern, their capabilities add
 * up, and `deny` on it takes everything away.
 */
import type { AclRule, AclScope } from '../model/index.ts';
import { IMPLIED, PREFIX_SCOPES } from './policy.ts';

/** What a request's token may do. */
export interface Authorizer {
  /** A management token: everything, ACL administration included. */
  readonly management: boolean;
  /** May it use `capability` on the object `name` of `scope`? */
  allows(scope: AclScope, name: string, capability: string): boolean;
  /** Does any rule of the scope grant `capability` (to show a list it then filters)? */
  allowsAny(scope: AclScope, capability: string): boolean;
  /**
   * May it use `capability` on every object under a prefix (a recursive KV delete)? The prefix's
   * own rule must allow it and no more specific rule under the prefix may take it away.
   */
  allowsUnder(scope: AclScope, prefix: string, capability: string): boolean;
}

interface CompiledRule {
  pattern: string;
  /** The pattern without its trailing `*`, for prefix patterns. */
  prefix: string | undefined;
  capabilities: Set<string>;
  deny: boolean;
}

/** Everything allowed: ACLs off, or a management token. */
export const ALLOW_ALL: Authorizer = { management: true, allows: () => true, allowsAny: () => true, allowsUnder: () => true };

/** Nothing allowed. */
export const DENY_ALL: Authorizer = { management: false, allows: () => false, allowsAny: () => false, allowsUnder: () => false };

/** Compile the rules of all of a token's policies. */
export function compileAuthorizer(rules: readonly AclRule[]): Authorizer {
  const byScope = new Map<AclScope, Map<string, CompiledRule>>();
  for (const rule of rules) {
    let patterns = byScope.get(rule.scope);
    if (!patterns) byScope.set(rule.scope, (patterns = new Map()));
    let compiled = patterns.get(rule.pattern);
    if (!compiled) {
      // kv and variables patterns are always prefixes, as Consul's key_prefix.
      const prefix = rule.pattern.endsWith('*') ? rule.pattern.slice(0, -1) : PREFIX_SCOPES.has(rule.scope) ? rule.pattern : undefined;
      compiled = { pattern: rule.pattern, prefix, capabilities: new Set(), deny: false };
      patterns.set(rule.pattern, compiled);
    }
    for (const cap of rule.capabilities) {
      if (cap === 'deny') compiled.deny = true;
      for (const c of expand(rule.scope, cap)) compiled.capabilities.add(c);
    }
  }
  const sorted = new Map<AclScope, CompiledRule[]>();
  for (const [scope, patterns] of byScope) sorted.set(scope, [...patterns.values()].sort(bySpecificity));

  const grants = (rule: CompiledRule | undefined, capability: string): boolean => rule !== undefined && !rule.deny && rule.capabilities.has(capability);
  return {
    management: false,
    allows(scope, name, capability) {
      return grants(
        sorted.get(scope)?.find((r) => (r.prefix === undefined ? name === r.pattern : name.startsWith(r.prefix))),
        capability,
      );
    },
    allowsUnder(scope, prefix, capability) {
      if (!this.allows(scope, prefix, capability)) return false;
      return (sorted.get(scope) ?? []).every((r) => !(r.prefix ?? r.pattern).startsWith(prefix) || grants(r, capability));
    },
    allowsAny(scope, capability) {
      return (sorted.get(scope) ?? []).some((r) => !r.deny && r.capabilities.has(capability));
    },
  };
}

/** A capability and everything it implies. */
function expand(scope: AclScope, cap: string): string[] {
  const implied = IMPLIED[scope]?.[cap] ?? [];
  return [cap, ...implied.flatMap((c) => expand(scope, c))];
}

/** Exact names first, then prefixes longest first; `*` (an empty prefix) last. */
function bySpecificity(a: CompiledRule, b: CompiledRule): number {
  if ((a.prefix === undefined) !== (b.prefix === undefined)) return a.prefix === undefined ? -1 : 1;
  return (b.prefix ?? b.pattern).length - (a.prefix ?? a.pattern).length;
}
