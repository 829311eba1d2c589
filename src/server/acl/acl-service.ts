/**
 * The ACL system of a server: who a request's secret is (resolve), bootstrap and its reset, and
 * the policy and token records. Tokens and policies live in the state, so every server sees the
 * same ones; what a token may do is compiled once per change of either table and cached.
 */
import { readFile, rm } from 'node:fs/promises';
import {
  ALLOW_ALL,
  ANONYMOUS_ACCESSOR,
  DENY_ALL,
  compileAuthorizer,
  hashSecret,
  newSecret,
  parsePolicy,
  tokenView,
  validPolicyName,
  type AclTokenView,
  type Authorizer,
} from '../../acl/index.ts';
import { BerthError, type AclPolicy, type AclToken, type AclTokenType } from '../../model/index.ts';
import { newId, type Clock, type Logger } from '../../lib/index.ts';
import type { StateStore, StateView, Write } from '../../state/index.ts';

/** Who made a request, and what they may do. */
export interface Identity {
  /** The token's accessor id; `anonymous` without a secret; undefined with ACLs off. */
  accessorId: string | undefined;
  authorizer: Authorizer;
}

/** ACL settings of a server. */
export interface AclOptions {
  /** Enforce ACLs. Default false: every request may do everything. */
  enabled: boolean;
  /**
   * The bootstrap reset file (`<data dir>/acl-bootstrap-reset`): writing the reset index that a
   * refused bootstrap names into it allows one more bootstrap (Nomad's procedure).
   */
  resetFile?: string;
}

/** What `token create` and `token update` take. */
export interface TokenRequest {
  description?: string;
  type?: AclTokenType;
  policies?: string[];
  /** Lifetime from now, ms. */
  expirationTtlMs?: number;
}

/** A token just created: the only time its secret is shown. */
export type NewToken = AclTokenView & { secretId: string };

/** Identity when ACLs are off: everything allowed, nobody in particular. */
const OPEN: Identity = { accessorId: undefined, authorizer: ALLOW_ALL };

/** How many secret -> hash results to keep (hashing is cheap, but not free on every request). */
const HASH_CACHE_SIZE = 10_000;

export class AclService {
  readonly enabled: boolean;
  readonly #view: StateView;
  readonly #store: StateStore;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #resetFile: string | undefined;
  readonly #workload: ((secret: string) => Identity | undefined) | undefined;
  readonly #hashes = new Map<string, string>();
  /** Tokens by secret hash, rebuilt when the tokens table moves. */
  #byHash = new Map<string, AclToken>();
  #byHashAt = -1;
  /** Authorizers by accessor id, dropped when tokens or policies move. */
  #authorizers = new Map<string, Authorizer>();
  #authorizersAt = '';

  /**
   * `deps.workload` resolves the tokens of allocations (`wi:...`, server/variables/): an identity,
   * undefined for a secret that is not one, or a 401 thrown.
   */
  constructor(deps: { view: StateView; store: StateStore; clock: Clock; logger: Logger; workload?: (secret: string) => Identity | undefined }, options: AclOptions) {
    this.enabled = options.enabled;
    this.#view = deps.view;
    this.#store = deps.store;
    this.#clock = deps.clock;
    this.#logger = deps.logger;
    this.#resetFile = options.resetFile;
    this.#workload = deps.workload;
  }

  /**
   * The identity of a secret: with ACLs off, everyone may do everything; without a secret, the
   * anonymous token; an unknown or expired secret is `unauthorized` (401).
   */
  resolve(secret: string | undefined): Identity {
    if (!this.enabled) return OPEN;
    const workload = secret ? this.#workload?.(secret) : undefined;
    if (workload) return workload;
    const token = secret === undefined || secret === '' ? this.#view.aclToken(ANONYMOUS_ACCESSOR) : this.#tokenOf(secret);
    if (!token) {
      if (secret === undefined || secret === '') return { accessorId: ANONYMOUS_ACCESSOR, authorizer: DENY_ALL };
      throw new BerthError('unauthorized', 'ACL token not found: the secret is unknown or its token was deleted (give a valid token with --token or BERTH_TOKEN)');
    }
    if (token.expirationTime !== undefined && token.expirationTime <= this.#clock.now()) {
      throw new BerthError('unauthorized', `ACL token ${token.accessorId} expired at ${new Date(token.expirationTime).toISOString()}: create a new one`);
    }
    return { accessorId: token.accessorId, authorizer: this.#authorizerOf(token) };
  }

  /**
   * The first management token. Refused once done, naming the reset index: write it into the
   * reset file on the server (`<data dir>/acl-bootstrap-reset`) to bootstrap once more.
   */
  async bootstrap(): Promise<NewToken> {
    this.#requireEnabled();
    const done = this.#view.aclBootstrap();
    const resetIndex = this.#view.modRevision('aclBootstrap', 'bootstrap');
    if (done && !(await this.#resetAllowed(resetIndex))) {
      const where = this.#resetFile ?? '<data dir>/acl-bootstrap-reset';
      throw new BerthError('forbidden', `ACL bootstrap already done (reset index: ${resetIndex}): to bootstrap again, write ${resetIndex} into ${where} on the server`);
    }
    const secret = newSecret();
    const now = this.#clock.now();
    const token: AclToken = { accessorId: newId(), secretHash: hashSecret(secret), description: 'Bootstrap Token (Global Management)', type: 'management', policies: [], createTime: now };
    const writes: Write[] = [
      { table: 'aclBootstrap', id: 'bootstrap', value: { id: 'bootstrap', accessorId: token.accessorId, time: now }, ifModRevision: resetIndex },
      { table: 'aclTokens', id: token.accessorId, value: token, ifModRevision: 0 },
    ];
    if (!this.#view.aclToken(ANONYMOUS_ACCESSOR)) {
      const anonymous: AclToken = { accessorId: ANONYMOUS_ACCESSOR, secretHash: '', description: 'Anonymous Token (requests without a token)', type: 'client', policies: [], createTime: now };
      writes.push({ table: 'aclTokens', id: ANONYMOUS_ACCESSOR, value: anonymous, ifModRevision: 0 });
    }
    const result = await this.#store.commit(writes);
    if (!result.ok) throw new BerthError('conflict', 'ACL bootstrap raced with another: it is done; ask whoever ran it for the token');
    if (done && this.#resetFile) await rm(this.#resetFile, { force: true });
    this.#logger.warn({ accessorId: token.accessorId }, 'ACL bootstrap: management token created');
    return { ...tokenView(token), secretId: secret };
  }

  // ---- policies

  policies(): AclPolicy[] {
    return this.#view.aclPolicies();
  }

  policy(name: string): AclPolicy {
    const policy = this.#view.aclPolicy(name);
    if (!policy) throw new BerthError('not_found', `Cannot find ACL policy "${name}" (see \`berth acl policy list\`)`);
    return policy;
  }

  /** Create or replace a policy from its document (YAML or JSON). */
  async applyPolicy(name: string, source: string, description?: string): Promise<AclPolicy> {
    if (!validPolicyName(name)) {
      throw new BerthError('invalid_input', `Invalid ACL policy name "${name}": use 1-128 letters, digits, "-" or "_"`, [{ path: 'name', message: 'invalid name' }]);
    }
    const doc = parsePolicy(source, `ACL policy "${name}"`);
    const now = this.#clock.now();
    const prev = this.#view.aclPolicy(name);
    const policy: AclPolicy = { name, description: description ?? doc.description, rules: doc.rules, source, createTime: prev?.createTime ?? now, modifyTime: now };
    await this.#commit([{ table: 'aclPolicies', id: name, value: policy, ifModRevision: this.#view.modRevision('aclPolicies', name) }], `apply ACL policy "${name}"`);
    return policy;
  }

  async deletePolicy(name: string): Promise<void> {
    this.policy(name);
    const users = this.#view.aclTokens().filter((t) => t.policies.includes(name));
    if (users.length > 0) {
      const list = users.slice(0, 5).map((t) => t.accessorId).join(', ');
      throw new BerthError('conflict', `Cannot delete ACL policy "${name}": ${users.length} token(s) use it (${list}); update or delete them first`);
    }
    await this.#commit([{ table: 'aclPolicies', id: name, value: null }], `delete ACL policy "${name}"`);
  }

  // ---- tokens

  tokens(): AclTokenView[] {
    return this.#view.aclTokens().map(tokenView);
  }

  token(accessorId: string): AclTokenView {
    return tokenView(this.#token(accessorId));
  }

  async createToken(req: TokenRequest): Promise<NewToken> {
    this.#requireEnabled();
    const type = req.type ?? 'client';
    this.#checkRequest(req, type);
    const secret = newSecret();
    const now = this.#clock.now();
    const token: AclToken = { accessorId: newId(), secretHash: hashSecret(secret), description: req.description ?? '', type, policies: req.policies ?? [], createTime: now };
    if (req.expirationTtlMs !== undefined) token.expirationTime = now + req.expirationTtlMs;
    await this.#commit([{ table: 'aclTokens', id: token.accessorId, value: token, ifModRevision: 0 }], 'create ACL token');
    return { ...tokenView(token), secretId: secret };
  }

  /** Change a token's description, policies or type; the secret stays. */
  async updateToken(accessorId: string, req: TokenRequest): Promise<AclTokenView> {
    const prev = this.#token(accessorId);
    const type = req.type ?? prev.type;
    if (accessorId === ANONYMOUS_ACCESSOR && type !== 'client') {
      throw new BerthError('invalid_input', 'Cannot make the anonymous token a management token: it is what requests without a token act as', [{ path: 'type', message: 'must be client' }]);
    }
    this.#checkRequest(req, type);
    const token: AclToken = { ...prev, type, description: req.description ?? prev.description, policies: req.policies ?? prev.policies };
    if (req.expirationTtlMs !== undefined) token.expirationTime = this.#clock.now() + req.expirationTtlMs;
    await this.#commit([{ table: 'aclTokens', id: accessorId, value: token, ifModRevision: this.#view.modRevision('aclTokens', accessorId) }], `update ACL token ${accessorId}`);
    return tokenView(token);
  }

  async deleteToken(accessorId: string): Promise<void> {
    this.#token(accessorId);
    if (accessorId === ANONYMOUS_ACCESSOR) {
      throw new BerthError('invalid_input', 'Cannot delete the anonymous token: give it no policies to deny requests without a token');
    }
    await this.#commit([{ table: 'aclTokens', id: accessorId, value: null }], `delete ACL token ${accessorId}`);
  }

  /** The token of an identity, for `token self`. */
  self(identity: Identity): AclTokenView {
    if (!this.enabled) throw new BerthError('invalid_input', 'ACLs are disabled on this server: there is no token to show (start it with --acl)');
    return this.token(identity.accessorId ?? ANONYMOUS_ACCESSOR);
  }

  #token(accessorId: string): AclToken {
    const token = this.#view.aclToken(accessorId);
    if (!token) throw new BerthError('not_found', `Cannot find ACL token "${accessorId}" (see \`berth acl token list\`)`);
    return token;
  }

  #checkRequest(req: TokenRequest, type: AclTokenType): void {
    const missing = (req.policies ?? []).filter((p) => !this.#view.aclPolicy(p));
    if (missing.length > 0) {
      throw new BerthError(
        'invalid_input',
        `Unknown ACL polic${missing.length > 1 ? 'ies' : 'y'} ${missing.map((m) => `"${m}"`).join(', ')}: create it first with \`berth acl policy apply\``,
        missing.map((m) => ({ path: 'policies', message: `no policy "${m}"` })),
      );
    }
    if (type === 'management' && (req.policies?.length ?? 0) > 0) {
      throw new BerthError('invalid_input', 'A management token takes no policies: it may do everything', [{ path: 'policies', message: 'must be empty for a management token' }]);
    }
  }

  #requireEnabled(): void {
    if (!this.enabled) throw new BerthError('invalid_input', 'ACLs are disabled on this server: start it with --acl to use tokens');
  }

  async #resetAllowed(resetIndex: number): Promise<boolean> {
    if (!this.#resetFile) return false;
    const text = await readFile(this.#resetFile, 'utf8').catch(() => undefined);
    return text !== undefined && text.trim() === String(resetIndex);
  }

  #tokenOf(secret: string): AclToken | undefined {
    let hash = this.#hashes.get(secret);
    if (hash === undefined) {
      hash = hashSecret(secret);
      if (this.#hashes.size >= HASH_CACHE_SIZE) this.#hashes.clear();
      this.#hashes.set(secret, hash);
    }
    const at = this.#view.tableIndex('aclTokens');
    if (at !== this.#byHashAt) {
      this.#byHash = new Map(this.#view.aclTokens().map((t) => [t.secretHash, t]));
      this.#byHashAt = at;
    }
    return this.#byHash.get(hash);
  }

  #authorizerOf(token: AclToken): Authorizer {
    if (token.type === 'management') return ALLOW_ALL;
    const at = `${this.#view.tableIndex('aclTokens')}/${this.#view.tableIndex('aclPolicies')}`;
    if (at !== this.#authorizersAt) {
      this.#authorizers = new Map();
      this.#authorizersAt = at;
    }
    let authorizer = this.#authorizers.get(token.accessorId);
    if (!authorizer) {
      const rules = token.policies.flatMap((name) => this.#view.aclPolicy(name)?.rules ?? []);
      authorizer = compileAuthorizer(rules);
      this.#authorizers.set(token.accessorId, authorizer);
    }
    return authorizer;
  }

  async #commit(writes: Write[], what: string): Promise<void> {
    const result = await this.#store.commit(writes);
    if (!result.ok) throw new BerthError('conflict', `Cannot ${what}: it changed meanwhile; try again`);
  }
}
