/** KV: a tree browser; view, create, edit and delete with CAS (a lost race is shown, never overwritten); sessions and lock holders. */
import { useState, type ReactNode } from 'react';
import { Link, useParams } from 'react-router';
import { useQuery } from '@tanstack/react-query';
import type { ConsulKvEntry, ConsulSession } from '../../api/index.ts';
import { shortId } from '../format.ts';
import { discoveryApi } from '../api.ts';
import { useLive } from '../live.ts';
import { ActionButton, ErrorBox, Header, Loaded } from '../parts/common.tsx';

function decode(v: string | null): string {
  if (v === null) return '';
  const bytes = Uint8Array.from(atob(v), (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

/** The keys directly under `prefix`: folders (ending in /) and keys. */
function children(entries: ConsulKvEntry[], prefix: string): string[] {
  const out = new Set<string>();
  for (const e of entries) {
    if (!e.Key.startsWith(prefix) || e.Key === prefix) continue;
    const rest = e.Key.slice(prefix.length);
    const slash = rest.indexOf('/');
    out.add(slash < 0 ? e.Key : prefix + rest.slice(0, slash + 1));
  }
  return [...out].sort();
}

function Editor({ entry, path }: { entry?: ConsulKvEntry; path: string }): ReactNode {
  // The index the edit started from: the CAS compares against it, not the live one. After a
  // save it follows the live entry again until the next keystroke pins it.
  const [pinned, setPinned] = useState<number | undefined>(entry?.ModifyIndex ?? 0);
  const base = pinned ?? entry?.ModifyIndex ?? 0;
  const [text, setText] = useState(entry ? decode(entry.Value) : '');
  const [conflict, setConflict] = useState(false);
  const edit = (value: string): void => {
    setPinned(base);
    setText(value);
  };
  const save = async (): Promise<void> => {
    const ok = await discoveryApi().kvPut(path, text, base);
    setConflict(!ok);
    if (ok) setPinned(undefined);
    if (!ok) throw new Error(`Not saved: "${path}" was changed by someone else since you opened it (you edited index ${base}, it is now at ${entry?.ModifyIndex ?? 'a newer one'}); reload the key to see their value, then edit again`);
  };
  return (
    <div>
      <label style={{ display: 'flex', flexDirection: 'column', alignItems: 'stretch' }}>
        Value of {path} {entry && <span className="muted">(modify index {entry.ModifyIndex}{entry.Session ? `, locked by session ${entry.Session.slice(0, 8)}` : ''})</span>}
        <textarea rows={10} value={text} onChange={(e) => edit(e.target.value)} className="mono" />
      </label>
      <div className="actions" style={{ marginTop: 8 }}>
        <ActionButton label={entry ? 'Save (CAS)' : 'Create'} run={save} may={{ scope: 'kv', name: path, capability: 'write' }} />
        {entry && <ActionButton label="Delete (CAS)" danger confirm={`Delete ${path}?`} run={async () => { if (!(await discoveryApi().kvDelete(path, base))) throw new Error(`Not deleted: "${path}" was changed since you opened it; reload it first`); }} may={{ scope: 'kv', name: path, capability: 'write' }} />}
      </div>
      {conflict && <p data-testid="cas-conflict" className="muted">Your text is kept above; nothing was overwritten.</p>}
    </div>
  );
}

function useSessions(): ReturnType<typeof useQuery<ConsulSession[]>> {
  return useQuery({ queryKey: ['sessions'], queryFn: () => discoveryApi().sessions() });
}

function Sessions(): ReactNode {
  const q = useSessions();
  return (
    <Loaded query={q}>
      {(s) => (s.length === 0 ? <p className="muted">No sessions.</p> : <ul>{s.map((x) => <li key={x.ID}><span className="mono" title={x.ID}>{shortId(x.ID)}</span> {x.Name} on {x.Node} (TTL {x.TTL || 'none'}, {x.Behavior})</li>)}</ul>)}
    </Loaded>
  );
}

/** Each locked key with the session holding it: its name and node. */
function LockHolders({ locks }: { locks: ConsulKvEntry[] }): ReactNode {
  const sessions = useSessions().data ?? [];
  if (locks.length === 0) return <p className="muted">No key is locked.</p>;
  return (
    <ul data-testid="lock-holders">
      {locks.map((e) => {
        const s = sessions.find((x) => x.ID === e.Session);
        return (
          <li key={e.Key}>
            <Link to={`/kv/${e.Key}`}>{e.Key}</Link>: held by {s?.Name ? <strong>{s.Name}</strong> : 'session'} <span className="mono" title={e.Session}>{shortId(e.Session)}</span>
            {s && <> on {s.Node}</>}
          </li>
        );
      })}
    </ul>
  );
}

/** The KV page. */
export default function Kv(): ReactNode {
  const path = useParams()['*'] ?? '';
  const q = useLive(['kv'], (o) => discoveryApi().kvList('', o));
  const [newKey, setNewKey] = useState('');
  const entries = q.data?.value ?? [];
  const folder = path === '' || path.endsWith('/') ? path : path.slice(0, path.lastIndexOf('/') + 1);
  const entry = entries.find((e) => e.Key === path);
  const locks = entries.filter((e) => e.Session);
  return (
    <>
      <Header title="Key/value" />
      <ErrorBox error={q.error} />
      <div className="kv">
        <nav aria-label="Keys">
          <p>
            <Link to="/kv/">root</Link> / {folder}
          </p>
          <ul>
            {folder && <li><Link to={`/kv/${folder.slice(0, folder.slice(0, -1).lastIndexOf('/') + 1)}`}>..</Link></li>}
            {children(entries, folder).map((k) => (
              <li key={k}>
                <Link to={`/kv/${k}`}>{k.slice(folder.length)}</Link>
              </li>
            ))}
          </ul>
          <label>
            New key <input value={newKey} onChange={(e) => setNewKey(e.target.value)} placeholder={`${folder}name`} />
          </label>{' '}
          <Link to={`/kv/${newKey}`}>Open</Link>
        </nav>
        <div>
          {path && !path.endsWith('/') ? (q.data ? <Editor key={path} entry={entry} path={path} /> : null) : <p className="muted">Choose a key, or type a new one.</p>}
          <h2>Lock holders</h2>
          <LockHolders locks={locks} />
          <h2>Sessions</h2>
          <Sessions />
        </div>
      </div>
    </>
  );
}
