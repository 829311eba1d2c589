import path from 'node:path';
import { SqliteBackend, type StateBackend } from '../state/index.ts';

/**
 * Revisions of history kept for watches and blocking queries; older ones are compacted away, as
 * etcd's auto-compaction does. A watcher that falls further behind reloads the whole state.
 */
const RETAIN_REVISIONS = 10_000;

/** Open the embedded SQLite state in `dataDir` (created if missing): the default backend. */
export async function openSqliteState(dataDir: string): Promise<StateBackend> {
  return SqliteBackend.open(path.join(dataDir, 'state.db'), { retainRevisions: RETAIN_REVISIONS });
}
