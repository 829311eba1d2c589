/**
 * Variables (Nomad Variables' role): small maps of secrets kept by path, encrypted at rest under
 * a keyring of data keys that the servers keep. The state holds only ciphertext and metadata.
 */

/** A variable as stored: the items are encrypted; the path and times are plaintext metadata. */
export interface StoredVariable {
  path: string;
  /** The data key that encrypted it (`KeyringKey.id`). */
  keyId: string;
  /** AES-256-GCM nonce, base64 (12 bytes). */
  nonce: string;
  /** The items as JSON, encrypted with AES-256-GCM under the data key with the path as additional data; the 16-byte tag last; base64. */
  ciphertext: string;
  /** The modify index of its first version (absent: the same as its modify index). */
  createIndex?: number;
  createTime: number;
  modifyTime: number;
}

/** What a key of the keyring is for: encrypting variables, or signing workload identities. */
export type KeyringKeyPurpose = 'variables' | 'workload-identity';

/**
 * `active`: new variables are encrypted with it; `rotated`: replaced by a newer key, still
 * decrypting the variables not yet re-encrypted; `inactive`: no variable uses it any more.
 */
export type KeyringKeyState = 'active' | 'rotated' | 'inactive';

/** A data key as stored: wrapped (encrypted) with the servers' key-encryption key, which is not in the state. */
export interface KeyringKey {
  id: string;
  purpose: KeyringKeyPurpose;
  state: KeyringKeyState;
  createTime: number;
  /** AES-256-GCM nonce of the wrapping, base64. */
  wrapNonce: string;
  /** The 32-byte key encrypted with the key-encryption key (the key id as additional data), tag last; base64. */
  wrappedKey: string;
}

/** A variable's metadata as the API shows it (lists carry no items). */
export interface VariableMeta {
  path: string;
  createIndex: number;
  modifyIndex: number;
  createTime: number;
  modifyTime: number;
}

/** A variable with its items, decrypted. */
export interface Variable extends VariableMeta {
  items: Record<string, string>;
}

/** A key of the keyring as `operator keyring list` shows it. */
export interface KeyringKeyInfo {
  id: string;
  purpose: KeyringKeyPurpose;
  state: KeyringKeyState;
  createTime: number;
  /** How many variables it still encrypts. */
  variables: number;
}
