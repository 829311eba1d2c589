/** Small pieces every page uses: status badges, times, errors, tables, buttons that call the API. */
import { useState, useSyncExternalStore, type ReactNode } from 'react';
import { absTime, errorText, relTime } from '../format.ts';
import type { AclCheck } from '../../api/index.ts';
import { useMay } from '../acl.ts';
import { noteFailure } from '../live.ts';

/** A coloured status word. */
export function Status({ value }: { value: string }): ReactNode {
  return <span className={`badge s-${value.replace(/[^a-z-]/gi, '')}`}>{value}</span>;
}

/** One clock for every relative time on the page: it ticks every few seconds while any is shown. */
const clock = (() => {
  let now = Date.now();
  const listeners = new Set<() => void>();
  let timer: ReturnType<typeof setInterval> | undefined;
  return {
    get: () => now,
    subscribe(l: () => void): () => void {
      listeners.add(l);
      timer ??= setInterval(() => {
        now = Date.now();
        for (const x of listeners) x();
      }, 5_000);
      return () => {
        listeners.delete(l);
        if (listeners.size > 0) return;
        clearInterval(timer);
        timer = undefined;
      };
    },
  };
})();

/** How times are written: "3m ago" (the absolute one on hover) or the absolute one (the relative one on hover); kept in local storage. */
export type TimeMode = 'relative' | 'absolute';
const TIME_MODE_KEY = 'berth.times';
export const timeMode = (() => {
  let mode: TimeMode = localStorage.getItem(TIME_MODE_KEY) === 'absolute' ? 'absolute' : 'relative';
  const listeners = new Set<() => void>();
  return {
    get: (): TimeMode => mode,
    toggle(): void {
      mode = mode === 'relative' ? 'absolute' : 'relative';
      localStorage.setItem(TIME_MODE_KEY, mode);
      for (const l of listeners) l();
    },
    subscribe: (l: () => void): (() => void) => (listeners.add(l), () => listeners.delete(l)),
  };
})();

/** The time mode, for components. */
export function useTimeMode(): TimeMode {
  return useSyncExternalStore(timeMode.subscribe, timeMode.get);
}

/** A time, relative or absolute as the user chose (the other one on hover). */
export function Time({ ms }: { ms: number | undefined }): ReactNode {
  const now = Math.max(useSyncExternalStore(clock.subscribe, clock.get), Date.now());
  const mode = useTimeMode();
  if (!ms) return <span className="muted">-</span>;
  const [shown, other] = mode === 'absolute' ? [absTime(ms), relTime(ms, now)] : [relTime(ms, now), absTime(ms)];
  return (
    <time dateTime={new Date(ms).toISOString()} title={other}>
      {shown}
    </time>
  );
}

/** The server's message and details of a failed request, where it concerns. */
export function ErrorBox({ error }: { error: unknown }): ReactNode {
  if (!error) return null;
  const { message, details } = errorText(error);
  return (
    <div className="error" role="alert">
      <strong>{message}</strong>
      {details.length > 0 && (
        <ul>
          {details.map((d, i) => (
            <li key={i}>
              <code>{d.path || '(body)'}</code>: {d.message}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** A page's title and its actions. */
export function Header({ title, children }: { title: ReactNode; children?: ReactNode }): ReactNode {
  return (
    <div className="page-head">
      <h1>{title}</h1>
      <div className="actions">{children}</div>
    </div>
  );
}

/** A button that runs an API call, disabled while it runs, showing its error beside it; not offered when the token may not (`may`). */
export function ActionButton(props: { label: string; run: () => Promise<unknown>; confirm?: string; danger?: boolean; onDone?: (r: unknown) => void; may?: AclCheck }): ReactNode {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const allowed = useMay(props.may);
  const click = async (): Promise<void> => {
    if (props.confirm && !window.confirm(props.confirm)) return;
    setBusy(true);
    setError(undefined);
    try {
      // Not `onDone?.(await run())`: an optional call skips its arguments, the run included.
      const result = await props.run();
      props.onDone?.(result);
    } catch (err) {
      noteFailure(err);
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  if (!allowed) return null;
  return (
    <span className="action">
      <button type="button" className={props.danger ? 'danger' : undefined} disabled={busy} onClick={() => void click()}>
        {props.label}
      </button>
      {error !== undefined && <ErrorBox error={error} />}
    </span>
  );
}

/** A query's loading and error states; children once it has data. */
export function Loaded<T>({ query, children }: { query: { data?: T; error: unknown; isLoading: boolean }; children: (data: T) => ReactNode }): ReactNode {
  if (query.error && query.data === undefined) return <ErrorBox error={query.error} />;
  if (query.data === undefined) return <p className="muted">Loading…</p>;
  return children(query.data);
}

/** Its children only when the token may do `may` (see acl.ts). */
export function Can({ may, children }: { may: AclCheck; children: ReactNode }): ReactNode {
  return useMay(may) ? children : null;
}

/** A labelled count, for summary strips. */
export function Stat({ label, value, tone }: { label: string; value: ReactNode; tone?: string }): ReactNode {
  return (
    <div className={`stat ${tone ? `t-${tone}` : ''}`}>
      <div className="stat-value">{value}</div>
      <div className="stat-label">{label}</div>
    </div>
  );
}

/** A horizontal bar: used over total. */
export function Meter({ used, total, label }: { used: number; total: number; label: string }): ReactNode {
  const pct = total > 0 ? Math.min(100, (used / total) * 100) : 0;
  return (
    <div className="meter" role="meter" aria-label={label} aria-valuenow={Math.round(pct)} aria-valuemin={0} aria-valuemax={100}>
      <div className="meter-fill" style={{ width: `${pct}%` }} />
    </div>
  );
}

/** A check's output: the first 200 characters, the rest one click away. */
export function CheckOutput({ text }: { text: string }): ReactNode {
  if (text.length <= 200) return <code>{text}</code>;
  return (
    <details className="check-output">
      <summary>
        <code>{text.slice(0, 200)}…</code>
      </summary>
      <pre>{text}</pre>
    </details>
  );
}
