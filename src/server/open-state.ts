import path from 'node:path';
import { SqliteBackend, type StateBackend } from '../state/index.ts';

/** Open the embedded SQLite state in `dataDir` (created if missing): the default backend. */
export async function openSqliteState(dataDir: string): Promise<StateBackend> {
  return SqliteBackend.open(path.join(dataDir, 'state.db'));
}
