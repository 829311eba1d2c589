/** Token secrets: made, hashed for storage, and the public view of a token. */
import { createHash, randomUUID } from 'node:crypto';
import type { AclToken } from '../model/index.ts';

/** The accessor id of the token requests without a secret act as. */
export const ANONYMOUS_ACCESSOR = 'anonymous';

/** A new secret: a random UUID (122 random bits), like Consul's and Nomad's. */
export function newSecret(): string {
  return randomUUID();
}

/** What is stored of a secret: its SHA-256, hex. A secret is random, so no salt or slow hash is needed. */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** A token as the API shows it: everything but the hash. */
export type AclTokenView = Omit<AclToken, 'secretHash'>;

export function tokenView(token: AclToken): AclTokenView {
  const { secretHash: _hash, ...view } = token;
  return view;
}
