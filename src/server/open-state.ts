import path from 'node:path';
import { EtcdBackend, SqliteBackend, type StateBackend } from '../state/index.ts';

/**
 * Revisions of history kept by default for watches and the event stream; older ones are compacted
 * away, as etcd's auto-compaction does. A watcher that falls further behind reloads the whole
 * state, and the event stream answers 410 to an index before it. Each revision keeps the old and
 * new value of every row it wrote (a plan: all its allocations), so the window is what bounds the
 * state file under churn (`--history-revisions`).
 */
export const DEFAULT_HISTORY_REVISIONS = 1_000;

/** Options of `openSqliteState`. */
export interface SqliteStateOptions {
  /** Revisions of history kept (at most a tenth more). Default: `DEFAULT_HISTORY_REVISIONS`. */
  historyRevisions?: number;
}

/** Open the embedded SQLite state in `dataDir` (created if missing): the default backend. */
export async function openSqliteState(dataDir: string, options: SqliteStateOptions = {}): Promise<StateBackend> {
  return SqliteBackend.open(path.join(dataDir, 'state.db'), { retainRevisions: options.historyRevisions ?? DEFAULT_HISTORY_REVISIONS });
}

/**
 * Connect to the etcd cluster at `endpoints` (client URLs such as `http://10.0.0.1:2379`): the
 * backend of servers that share state. History is compacted by etcd itself; run it with
 * `--auto-compaction-mode revision --auto-compaction-retention 1000` to keep what sqlite keeps, and
 * with `--max-txn-ops 10000`, since berth commits a whole plan in one txn (etcd's default is 128).
 */
export async function openEtcdState(endpoints: string[], tls?: EtcdTlsFiles): Promise<StateBackend> {
  return EtcdBackend.open(endpoints, tls ? { credentials: await etcdCredentials(tls) } : {});
}

/** TLS files for etcd: the CA of its members, and a client certificate and key for --client-cert-auth. */
export interface EtcdTlsFiles {
  /** Default: the system's CAs. */
  ca?: string;
  cert?: string;
  key?: string;
}

/** The etcd client's credentials from the files; throws naming a file that cannot be read. */
async function etcdCredentials(files: EtcdTlsFiles): Promise<{ rootCertificate: Buffer; certChain?: Buffer; privateKey?: Buffer }> {
  // Loaded here: a server without etcd TLS does not load the tls layer (and undici) at all.
  const { readPem } = await import('../tls/index.ts');
  const pem = (file: string | undefined, what: string): Buffer | undefined => (file ? Buffer.from(readPem(file, what)) : undefined);
  // gRPC's createSsl takes null for "the system's CAs"; the etcd3 client's type says Buffer only.
  return { rootCertificate: pem(files.ca, 'etcd CA certificate') ?? (null as unknown as Buffer), certChain: pem(files.cert, 'etcd client certificate'), privateKey: pem(files.key, 'etcd client key') };
}
