/** A task's live output: stdout or stderr, followed as it is written, searchable. */
import { useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { api } from '../api.ts';
import { ErrorBox } from './common.tsx';

const KEEP_CHARS = 400_000;

/** Follow one stream of a task from its last 500 lines on. */
function useLogText(allocId: string, task: string, stream: 'stdout' | 'stderr', follow: boolean): { text: string; error?: unknown } {
  const [text, setText] = useState('');
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    const stop = new AbortController();
    setText('');
    setError(undefined);
    void (async () => {
      try {
        const body = await api().allocLogs(allocId, { task, stream, follow, tail: 500, signal: stop.signal });
        const decoder = new TextDecoder();
        for await (const chunk of body) setText((t) => (t + decoder.decode(chunk, { stream: true })).slice(-KEEP_CHARS));
      } catch (err) {
        if (!stop.signal.aborted) setError(err);
      }
    })();
    return () => stop.abort();
  }, [allocId, task, stream, follow]);
  return { text, error };
}

function Highlighted({ line, term }: { line: string; term: string }): ReactNode {
  if (!term) return line;
  const at = line.toLowerCase().indexOf(term.toLowerCase());
  if (at < 0) return line;
  return (
    <>
      {line.slice(0, at)}
      <mark>{line.slice(at, at + term.length)}</mark>
      {line.slice(at + term.length)}
    </>
  );
}

/** The log viewer of one task. */
export function Logs({ allocId, task }: { allocId: string; task: string }): ReactNode {
  const [stream, setStream] = useState<'stdout' | 'stderr'>('stdout');
  const [follow, setFollow] = useState(true);
  const [search, setSearch] = useState('');
  const { text, error } = useLogText(allocId, task, stream, follow);
  const lines = useMemo(() => text.split('\n').filter((l) => !search || l.toLowerCase().includes(search.toLowerCase())), [text, search]);
  const box = useRef<HTMLPreElement>(null);
  useEffect(() => {
    if (follow && box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [lines, follow]);
  return (
    <div>
      <div className="toolbar">
        <label>
          Stream
          <select value={stream} onChange={(e) => setStream(e.target.value as 'stdout' | 'stderr')}>
            <option>stdout</option>
            <option>stderr</option>
          </select>
        </label>
        <label>
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} /> Follow
        </label>
        <label>
          Search <input type="search" value={search} onChange={(e) => setSearch(e.target.value)} />
        </label>
      </div>
      <ErrorBox error={error} />
      <pre className="logs" ref={box} data-testid="logs" tabIndex={0} role="log" aria-label={`${stream} of ${task}`}>
        {lines.map((l, i) => (
          <div key={i}>
            <Highlighted line={l} term={search} />
          </div>
        ))}
      </pre>
    </div>
  );
}
