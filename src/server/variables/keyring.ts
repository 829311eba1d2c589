/**
 * The servers' keyring: data keys in the state, each wrapped with the key-encryption key (KEK),
 * which lives in a file beside each server and never in the state. Reading the SQLite file or etcd
 * yields wrapped keys and ciphertext only. One key is active (new variables use it); `rotate` makes
 * a new one active and leaves the old one `rotated` until the rekey loop has moved every variable
 * off it. A second key, `workload-identity`, signs the tokens of allocations.
 */
import { BerthError, type KeyringKey, type KeyringKeyInfo } from '../../model/index.ts';
import { newId, type Clock, type Logger } from '../../lib/index.ts';
import type { StateStore, StateView, Write } from '../../state/index.ts';
import { newKey, seal, unseal } from './crypto.ts';

/** The fixed id of the key that signs workload identities. */
export const WORKLOAD_KEY_ID = 'workload-identity';

/** What the keyring needs. */
export interface KeyringDeps {
  view: StateView;
  store: StateStore;
  clock: Clock;
  logger: Logger;
  /** The key-encryption key (32 bytes). */
  kek: Buffer;
  /** Where the KEK came from, for error messages. Default "the key-encryption key". */
  kekSource?: string;
}

/** The keyring of one server: unwraps data keys with its KEK (cached), makes and rotates them. */
export class Keyring {
  readonly #d: KeyringDeps;
  /** Unwrapped keys by id (keys never change once made). */
  readonly #keys = new Map<string, Buffer>();

  constructor(deps: KeyringDeps) {
    this.#d = deps;
  }

  /**
   * Make the first keys if the state has none (one server wins the race; the others use its keys),
   * then check that this server's KEK opens them. A server given another KEK than its peers logs
   * the fix loudly and serves everything but variables, which answer 503 with the same fix: the
   * rest of the cluster keeps working while the operator copies the file.
   */
  async open(): Promise<void> {
    const { view } = this.#d;
    if (!view.keyringKey(WORKLOAD_KEY_ID)) {
      const first = newId();
      // Both in one txn guarded by the workload key's absence: one server's pair lands, never a mix.
      const result = await this.#d.store.commit([
        { table: 'keyring', id: WORKLOAD_KEY_ID, value: this.#wrap(WORKLOAD_KEY_ID, 'workload-identity'), ifModRevision: 0 },
        { table: 'keyring', id: first, value: this.#wrap(first, 'variables'), ifModRevision: 0 },
      ]);
      // Lost the race: our keys were never stored, so forget them.
      if (!result.ok) this.#keys.clear();
      else this.#d.logger.info({ keyId: first }, 'keyring: made the first data key');
    }
    try {
      for (const key of view.keyringKeys()) this.#unwrap(key);
    } catch (err) {
      this.#d.logger.error({ err }, (err as Error).message);
    }
  }

  /** The active variables key: its id and bytes. */
  active(): { id: string; key: Buffer } {
    const row = this.#d.view.keyringKeys().find((k) => k.purpose === 'variables' && k.state === 'active');
    if (!row) throw new BerthError('unavailable', 'The keyring has no active key yet: the server is still starting; retry in a moment');
    return { id: row.id, key: this.#unwrap(row) };
  }

  /** The bytes of a data key by id; throws `internal` if the state has no such key. */
  key(id: string): Buffer {
    const row = this.#d.view.keyringKey(id);
    if (!row) throw new BerthError('internal', `Cannot decrypt: keyring key ${id} is not in the state`);
    return this.#unwrap(row);
  }

  /** The secret that signs workload identities. */
  workloadSecret(): Buffer {
    return this.key(WORKLOAD_KEY_ID);
  }

  /** The variables keys, newest first, with how many variables each still encrypts. */
  list(): KeyringKeyInfo[] {
    const counts = new Map<string, number>();
    for (const v of this.#d.view.variables()) counts.set(v.keyId, (counts.get(v.keyId) ?? 0) + 1);
    return this.#d.view
      .keyringKeys()
      .filter((k) => k.purpose === 'variables')
      .sort((a, b) => b.createTime - a.createTime || (a.state === 'active' ? -1 : 1))
      .map((k) => ({ id: k.id, purpose: k.purpose, state: k.state, createTime: k.createTime, variables: counts.get(k.id) ?? 0 }));
  }

  /** Make a new active key; the old one stays to decrypt until the rekey loop has moved every variable off it. */
  async rotate(): Promise<KeyringKeyInfo> {
    const { view, store } = this.#d;
    const old = this.active();
    const oldRow = view.keyringKey(old.id)!;
    const id = newId();
    const row = this.#wrap(id, 'variables');
    const result = await store.commit([
      { table: 'keyring', id, value: row, ifModRevision: 0 },
      { table: 'keyring', id: old.id, value: { ...oldRow, state: 'rotated' }, ifModRevision: view.modRevision('keyring', old.id) },
    ]);
    if (!result.ok) throw new BerthError('conflict', 'Cannot rotate the keyring: another rotation ran at the same time; see `berth operator keyring list`');
    this.#d.logger.info({ keyId: id, previous: old.id }, 'keyring rotated: variables are re-encrypted in the background');
    return { id, purpose: 'variables', state: 'active', createTime: row.createTime, variables: 0 };
  }

  /** Mark `rotated` keys that no variable uses any more `inactive`. Returns the ids marked. */
  async retireUnused(): Promise<string[]> {
    const { view, store } = this.#d;
    const used = new Set(view.variables().map((v) => v.keyId));
    const done = view.keyringKeys().filter((k) => k.state === 'rotated' && !used.has(k.id));
    if (done.length === 0) return [];
    const writes: Write[] = done.map((k) => ({ table: 'keyring', id: k.id, value: { ...k, state: 'inactive' }, ifModRevision: view.modRevision('keyring', k.id) }));
    const result = await store.commit(writes);
    return result.ok ? done.map((k) => k.id) : [];
  }

  #wrap(id: string, purpose: KeyringKey['purpose']): KeyringKey {
    const key = newKey();
    const sealed = seal(this.#d.kek, key, `berth-keyring:${id}`);
    this.#keys.set(id, key);
    return { id, purpose, state: 'active', createTime: this.#d.clock.now(), wrapNonce: sealed.nonce, wrappedKey: sealed.ciphertext };
  }

  #unwrap(row: KeyringKey): Buffer {
    const cached = this.#keys.get(row.id);
    if (cached) return cached;
    let key: Buffer;
    try {
      key = unseal(this.#d.kek, { nonce: row.wrapNonce, ciphertext: row.wrappedKey }, `berth-keyring:${row.id}`);
    } catch {
      const source = this.#d.kekSource ?? 'the key-encryption key';
      throw new BerthError(
        'unavailable',
        `Cannot open keyring key ${row.id}: it was wrapped with another key-encryption key than ${source}; give every server the same file with --keyring-kek and restart it (see README "Variables")`,
      );
    }
    this.#keys.set(row.id, key);
    return key;
  }
}
