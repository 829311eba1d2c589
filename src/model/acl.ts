/**
 * The ACL model (Nomad's and Consul's): policies grant capabilities on kinds of objects, matched
 * by name or path; tokens carry policies. A token's secret is never stored, only its hash.
 */

/** The kinds of objects a policy speaks of. */
export type AclScope = 'jobs' | 'nodes' | 'agent' | 'operator' | 'kv' | 'variables' | 'services' | 'events' | 'sessions' | 'acl';

/** One rule: capabilities on the objects of a scope whose name (or path) the pattern matches. */
export interface AclRule {
  scope: AclScope;
  /**
   * A name or path pattern: `*` matches anything; a trailing `*` matches a prefix; otherwise an
   * exact name. Scopes without names (`agent`, `operator`, `events`, `acl`) use `*`.
   */
  pattern: string;
  /** Capabilities granted; `deny` takes away everything this pattern matches. */
  capabilities: string[];
}

/** A named set of rules, as stored. */
export interface AclPolicy {
  name: string;
  description: string;
  rules: AclRule[];
  /** The policy document as the operator wrote it (YAML or JSON), for `policy info`. */
  source: string;
  createTime: number;
  modifyTime: number;
}

/** `management` tokens may do anything; `client` tokens what their policies grant. */
export type AclTokenType = 'management' | 'client';

/** A token as stored: its accessor id is public, its secret only as a SHA-256 hash. */
export interface AclToken {
  accessorId: string;
  /** Hex SHA-256 of the secret. */
  secretHash: string;
  description: string;
  type: AclTokenType;
  policies: string[];
  createTime: number;
  /** Epoch ms after which the token is refused; absent: never expires. */
  expirationTime?: number;
}

/** Written once by `acl bootstrap`; a reset file naming its revision allows one more bootstrap. */
export interface AclBootstrap {
  id: 'bootstrap';
  accessorId: string;
  time: number;
}

/**
 * The secret a node registered with (trust on first use): its agent must show it to act as the
 * node, and the servers show it to the agent when they proxy logs, exec and stats to it. Kept apart
 * from the node rows, which the API shows; never in an API answer.
 */
export interface NodeSecret {
  id: string;
  secret: string;
}
