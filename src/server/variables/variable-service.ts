/**
 * Variables: read, list, write and delete by path, with CAS on the modify index; every write
 * encrypted under the keyring's active key with the path as GCM additional data, so a row copied
 * to another path in the state does not decrypt. Also the re-encryption the rekey loop runs.
 */
import { BerthError, type StoredVariable, type Variable, type VariableMeta } from '../../model/index.ts';
import type { Clock } from '../../lib/index.ts';
import type { StateStore, StateView } from '../../state/index.ts';
import { seal, unseal } from './crypto.ts';
import type { Keyring } from './keyring.ts';
import { checkItems, checkPath, checkPrefix } from './validate.ts';

/** The most ciphertext one re-encryption txn carries. */
const MAX_TXN_BYTES = 512 * 1024;

/** The additional data of a variable's ciphertext. */
const aadOf = (path: string): string => `berth-variable:${path}`;

/** Variables by path: decrypted on read, encrypted on write, CAS on the modify index. */
export class VariableService {
  constructor(private readonly d: { view: StateView; store: StateStore; clock: Clock; keyring: Keyring }) {}

  /** A variable with its items; 404 if there is none at the path. */
  get(path: string): Variable {
    checkPath(path);
    const row = this.d.view.variable(path);
    if (!row) throw new BerthError('not_found', `Cannot find variable "${path}" (see \`berth var list\`)`);
    return { ...this.#meta(row), items: this.#decrypt(row) };
  }

  /** The metadata (no items) of the variables under a prefix that `visible` lets through, by path. */
  list(prefix: string, visible: (path: string) => boolean = () => true): VariableMeta[] {
    checkPrefix(prefix);
    return this.d.view
      .variables()
      .filter((v) => v.path.startsWith(prefix) && visible(v.path))
      .map((v) => this.#meta(v));
  }

  /**
   * Create or replace a variable's items. With `cas`, only if its modify index is still `cas` (0:
   * only if it does not exist); otherwise a 409 naming the current index.
   */
  async put(path: string, items: unknown, cas?: number): Promise<Variable> {
    checkPath(path);
    checkItems(items, path);
    const { view, store, clock } = this.d;
    // Without CAS, a write that raced another is made again on the newer row: last writer wins.
    for (let attempt = 0; ; attempt++) {
      const prev = view.variable(path);
      const index = view.modRevision('variables', path);
      if (cas !== undefined && cas !== index) throw casConflict('write', path, cas, index);
      const now = clock.now();
      const row: StoredVariable = { ...this.#encrypt(path, items), path, createTime: prev?.createTime ?? now, modifyTime: now };
      if (prev) row.createIndex = prev.createIndex ?? index;
      const result = await store.commit([{ table: 'variables', id: path, value: row, ifModRevision: index }]);
      if (result.ok) return { ...this.#meta(view.variable(path)!), items: { ...items } };
      if (cas !== undefined || attempt >= 5) throw casConflict('write', path, cas ?? index, view.modRevision('variables', path));
    }
  }

  /** Delete a variable; with `cas`, only if its modify index is still `cas`. Deleting what is not there succeeds. */
  async delete(path: string, cas?: number): Promise<void> {
    checkPath(path);
    const { view, store } = this.d;
    const index = view.modRevision('variables', path);
    if (cas !== undefined && cas !== index) throw casConflict('delete', path, cas, index);
    if (index === 0) return;
    const result = await store.commit([{ table: 'variables', id: path, value: null, ifModRevision: index }]);
    if (!result.ok) throw casConflict('delete', path, cas ?? index, view.modRevision('variables', path));
  }

  /**
   * Re-encrypt up to `batch` variables that are not under the active key (one txn, each row
   * compared with what was read, so a user's write in between is kept). Returns how many moved;
   * 0 when none is left.
   */
  async reencrypt(batch: number, store: StateStore = this.d.store): Promise<number> {
    const { view } = this.d;
    const active = this.d.keyring.active();
    const stale: StoredVariable[] = [];
    let bytes = 0;
    // Bounded by bytes too: one txn must stay under etcd's request size (1.5 MiB by default).
    for (const v of view.variables()) {
      if (v.keyId === active.id) continue;
      if (stale.length >= batch || (stale.length > 0 && bytes + v.ciphertext.length > MAX_TXN_BYTES)) break;
      stale.push(v);
      bytes += v.ciphertext.length;
    }
    if (stale.length === 0) return 0;
    const writes = stale.map((v) => {
      const index = view.modRevision('variables', v.path);
      const row: StoredVariable = { ...v, ...this.#encrypt(v.path, this.#decrypt(v)), createIndex: v.createIndex ?? index };
      return { table: 'variables' as const, id: v.path, value: row, ifModRevision: index };
    });
    const result = await store.commit(writes);
    // A lost race is retried on the next pass, from the state as it then is.
    return result.ok ? stale.length : 0;
  }

  #encrypt(path: string, items: Record<string, string>): Pick<StoredVariable, 'keyId' | 'nonce' | 'ciphertext'> {
    const active = this.d.keyring.active();
    const sealed = seal(active.key, Buffer.from(JSON.stringify(items), 'utf8'), aadOf(path));
    return { keyId: active.id, nonce: sealed.nonce, ciphertext: sealed.ciphertext };
  }

  #decrypt(row: StoredVariable): Record<string, string> {
    const key = this.d.keyring.key(row.keyId);
    try {
      return JSON.parse(unseal(key, row, aadOf(row.path)).toString('utf8')) as Record<string, string>;
    } catch {
      throw new BerthError('internal', `Cannot decrypt variable "${row.path}": its ciphertext does not authenticate under key ${row.keyId} and its path (moved or altered in the state)`);
    }
  }

  #meta(row: StoredVariable): VariableMeta {
    const modifyIndex = this.d.view.modRevision('variables', row.path);
    return { path: row.path, createIndex: row.createIndex ?? modifyIndex, modifyIndex, createTime: row.createTime, modifyTime: row.modifyTime };
  }
}

function casConflict(what: 'write' | 'delete', path: string, cas: number, current: number): BerthError {
  const state = current === 0 ? 'it does not exist (index 0)' : `its current modify index is ${current}`;
  return new BerthError('conflict', `Cannot ${what} variable "${path}": --check-index ${cas} does not match; ${state}; read it again and retry`, [
    { path: 'cas', message: `current modify index ${current}` },
  ]);
}
