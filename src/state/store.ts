/**
 * Typed writes: rows in, one backend txn out, each write optionally guarded by the revision it
 * was read at. A commit resolves only once the view has applied it, so callers read their own
 * writes; a lost race comes back as conflicts, never as a silent overwrite.
 */
import { BerthError } from '../model/index.ts';
import type { Compare, KeyValue, Op, StateBackend } from './backend.ts';
import { keyOf } from './tables.ts';
import type { Table } from './tables.ts';
import type { StateView } from './view.ts';

/** One row to write. */
export interface Write {
  table: Table;
  /** The row's id; for jobVersions `<jobId>/<version>`. */
  id: string;
  /** The row (stored as JSON), or null to delete it. */
  value: unknown;
  /** Write only if the row's modRevision is this (0: only if it does not exist yet). */
  ifModRevision?: number;
}

/** A committed write and its revision, or the rows whose `ifModRevision` no longer held. */
export type CommitResult = { ok: true; index: number } | { ok: false; conflicts: { table: Table; id: string }[] };

/** Options of `StateStore`. */
export interface StateStoreOptions {
  /** How long a commit waits for the view to apply it before failing with `timeout`. Default: 30000. */
  applyTimeoutMs?: number;
}

/** Writes rows through a backend and waits for the view over that same backend to see them. */
export class StateStore {
  private readonly applyTimeoutMs: number;

  constructor(
    private readonly backend: StateBackend,
    private readonly view: StateView,
    options: StateStoreOptions = {},
  ) {
    this.applyTimeoutMs = options.applyTimeoutMs ?? 30_000;
  }

  /**
   * Write rows in one txn. On a conflict nothing is written, and the view has caught up with the
   * conflicting rows by the time this resolves, so a rebuild from it sees their newer state.
   */
  async commit(writes: Write[]): Promise<CommitResult> {
    const { result, settled } = await this.send(writes);
    await settled();
    return result;
  }

  /**
   * `commit` without the wait for the view on success: resolves as soon as the backend answers,
   * for a caller that keeps what it wrote in sight itself (the plan applier) and then awaits
   * `settled()` before anyone reads it from the view. Conflicts still wait, as in `commit`.
   */
  async send(writes: Write[]): Promise<{ result: CommitResult; settled: () => Promise<void> }> {
    const none = async (): Promise<void> => {};
    if (writes.length === 0) return { result: { ok: true, index: this.view.index }, settled: none };
    const keys = writes.map(checkWrite);
    const unique = new Set<string>();
    keys.forEach((key, i) => {
      if (unique.has(key)) throw new BerthError('invalid_input', `Cannot commit ${writes[i].table} "${writes[i].id}": it is written twice in one commit`);
      unique.add(key);
    });
    const compare: Compare[] = [];
    const guarded: { write: Write; key: string }[] = [];
    writes.forEach((write, i) => {
      if (write.ifModRevision === undefined) return;
      compare.push({ key: keys[i], target: 'modRevision', op: '=', value: write.ifModRevision });
      guarded.push({ write, key: keys[i] });
    });
    const success: Op[] = writes.map((write, i) =>
      write.value === null ? { type: 'delete', key: keys[i] } : { type: 'put', key: keys[i], value: JSON.stringify(write.value) },
    );
    const failure: Op[] = guarded.map(({ key }) => ({ type: 'range', selector: { key } }));
    const result = await this.backend.txn({ compare, success, failure });

    if (result.succeeded) {
      // Delete-only commits may change nothing, and then the revision is not one the view will
      // see again; seeing the rows gone is enough.
      const onlyDeletes = writes.every((w) => w.value === null);
      const settled = (): Promise<void> => this.settle(result.revision, () => onlyDeletes && writes.every((w) => this.view.modRevision(w.table, w.id) === 0));
      return { result: { ok: true, index: result.revision }, settled };
    }
    const current = guarded.map(({ write }, i) => ({ write, kv: result.responses[i]?.kvs[0] as KeyValue | undefined }));
    const conflicts = current.filter(({ write, kv }) => (kv?.modRevision ?? 0) !== write.ifModRevision);
    await this.settle(result.revision, () => current.every(({ write, kv }) => this.view.modRevision(write.table, write.id) === (kv?.modRevision ?? 0)));
    return { result: { ok: false, conflicts: conflicts.map(({ write }) => ({ table: write.table, id: write.id })) }, settled: none };
  }

  /**
   * Build writes from the view and commit them, rebuilding and retrying on conflict up to
   * `attempts` times in all. `build` returns null when there is nothing to write.
   */
  async commitWithRetry(build: (view: StateView) => Write[] | null, attempts = 5): Promise<CommitResult> {
    if (!Number.isInteger(attempts) || attempts < 1) {
      throw new BerthError('invalid_input', `Cannot commit: attempts must be a positive integer, got ${attempts}`);
    }
    let result: CommitResult = { ok: true, index: this.view.index };
    for (let i = 0; i < attempts; i++) {
      const writes = build(this.view);
      if (writes === null) return { ok: true, index: this.view.index };
      result = await this.commit(writes);
      if (result.ok) return result;
    }
    return result;
  }

  /** Wait until the view reached `revision` or `done` holds. */
  private async settle(revision: number, done: () => boolean): Promise<void> {
    if (this.view.index >= revision || done()) return;
    let unsubscribe = (): void => {};
    const seen = new Promise<boolean>((resolve) => {
      unsubscribe = this.view.onChange(() => done() && resolve(true));
    });
    const reached = await Promise.race([this.view.waitForIndex(revision, this.applyTimeoutMs), seen]);
    unsubscribe();
    if (!reached) {
      throw new BerthError('timeout', `Cannot confirm the write at revision ${revision}: the state view did not apply it within ${this.applyTimeoutMs} ms`);
    }
  }
}

/** The key of a write, after checking what a txn would reject less clearly. */
function checkWrite(write: Write): string {
  const where = `${write.table} "${write.id}"`;
  if (write.value === undefined) throw new BerthError('invalid_input', `Cannot commit ${where}: value is undefined (use null to delete)`);
  const key = keyOf(write.table, write.id);
  const value = write.value as { id?: unknown; version?: unknown } | null;
  if (value !== null && typeof value === 'object') {
    const slash = write.id.lastIndexOf('/');
    const [id, version] = write.table === 'jobVersions' ? [write.id.slice(0, slash), Number(write.id.slice(slash + 1))] : [write.id, undefined];
    if ('id' in value && value.id !== id) throw new BerthError('invalid_input', `Cannot commit ${where}: the value's id is "${String(value.id)}"`);
    if (version !== undefined && 'version' in value && value.version !== version) {
      throw new BerthError('invalid_input', `Cannot commit ${where}: the value's version is ${String(value.version)}`);
    }
  }
  return key;
}
