/** Jobs: searchable, filterable, sortable; virtualised so thousands scroll smoothly. */
import { useEffect, useMemo, useRef, useState, type ReactNode, type RefObject } from 'react';
import { Link, useSearchParams } from 'react-router';
import { useVirtualizer, type Virtualizer } from '@tanstack/react-virtual';
import type { JobListItem } from '../../api/index.ts';
import { useJobs } from '../queries.ts';
import { Can, ErrorBox, Header, Status, Time } from '../parts/common.tsx';
import { typing } from '../parts/keys.tsx';

type SortKey = 'id' | 'type' | 'status' | 'submitTime';

/** The counts of a job's allocations over its groups. */
function totals(job: JobListItem): { running: number; desired: number; failed: number; complete: number } {
  const groups = Object.values(job.summary);
  const sum = (k: 'running' | 'desired' | 'failed' | 'complete'): number => groups.reduce((s, g) => s + g[k], 0);
  return { running: sum('running'), desired: sum('desired'), failed: sum('failed'), complete: sum('complete') };
}

function filtered(jobs: JobListItem[], params: URLSearchParams): JobListItem[] {
  const q = (params.get('q') ?? '').toLowerCase();
  const type = params.get('type') ?? '';
  const status = params.get('status') ?? '';
  const sort = (params.get('sort') ?? 'id') as SortKey;
  const dir = params.get('dir') === 'desc' ? -1 : 1;
  const out = jobs.filter((j) => (!q || j.id.toLowerCase().includes(q)) && (!type || j.type === type) && (!status || j.status === status));
  return out.sort((a, b) => (a[sort] < b[sort] ? -dir : a[sort] > b[sort] ? dir : 0));
}

function Row({ job }: { job: JobListItem }): ReactNode {
  const t = totals(job);
  const count = `${t.running}/${t.desired} running${t.complete ? ` · ${t.complete} complete` : ''}${t.failed ? ` · ${t.failed} failed` : ''}`;
  const groups = Object.keys(job.summary).join(', ');
  return (
    <>
      <span role="cell" title={job.id}>
        <Link to={`/jobs/${encodeURIComponent(job.id)}`}>{job.id}</Link>
      </span>
      <span role="cell">{job.type}</span>
      <span role="cell">
        <Status value={job.stop ? 'stopped' : job.status} />
      </span>
      <span role="cell" data-testid="job-count" title={count}>
        {count}
      </span>
      <span role="cell" title={`${groups} v${job.version}`}>
        {groups} <span className="muted">v{job.version}</span>
      </span>
      <span role="cell">
        <Time ms={job.submitTime} />
      </span>
    </>
  );
}

function Filters({ params, set }: { params: URLSearchParams; set: (k: string, v: string) => void }): ReactNode {
  return (
    <div className="toolbar" role="search">
      <label>
        Search <input type="search" value={params.get('q') ?? ''} onChange={(e) => set('q', e.target.value)} placeholder="job id (press /)" />
      </label>
      <label>
        Type
        <select value={params.get('type') ?? ''} onChange={(e) => set('type', e.target.value)}>
          <option value="">any</option>
          <option>service</option>
          <option>batch</option>
          <option>system</option>
        </select>
      </label>
      <label>
        Status
        <select value={params.get('status') ?? ''} onChange={(e) => set('status', e.target.value)}>
          <option value="">any</option>
          <option>running</option>
          <option>pending</option>
          <option>dead</option>
        </select>
      </label>
    </div>
  );
}

/**
 * `j` and `k` move the focus down and up the rows (scrolling the virtualised list so the row
 * exists), Enter opens the focused job (it is a link).
 */
function useRowKeys(count: number, virtual: Virtualizer<HTMLDivElement, Element>, scroller: RefObject<HTMLDivElement | null>): void {
  const [at, setAt] = useState(-1);
  useEffect(() => {
    const onKey = (e: KeyboardEvent): void => {
      if (typing(e) || (e.key !== 'j' && e.key !== 'k') || count === 0) return;
      e.preventDefault();
      setAt((i) => Math.max(0, Math.min(count - 1, e.key === 'j' ? i + 1 : i - 1)));
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [count]);
  useEffect(() => {
    if (at < 0) return;
    virtual.scrollToIndex(at, { align: 'auto' });
    // The row is drawn once the scroll has landed and the virtualiser has rendered it: try a few frames.
    let frame = 0;
    const focus = (tries: number): void => {
      const link = scroller.current?.querySelector<HTMLAnchorElement>(`[aria-rowindex="${at + 2}"] a`);
      if (link) link.focus({ preventScroll: true });
      else if (tries > 0) frame = requestAnimationFrame(() => focus(tries - 1));
    };
    frame = requestAnimationFrame(() => focus(10));
    return () => cancelAnimationFrame(frame);
  }, [at, virtual, scroller]);
}

/** The jobs table. */
export function Jobs(): ReactNode {
  const query = useJobs();
  const [params, setParams] = useSearchParams();
  const set = (k: string, v: string): void => setParams((p) => (v ? p.set(k, v) : p.delete(k), p), { replace: true });
  const rows = useMemo(() => filtered(query.data?.value ?? [], params), [query.data, params]);
  const scroller = useRef<HTMLDivElement>(null);
  const virtual = useVirtualizer({ count: rows.length, getScrollElement: () => scroller.current, estimateSize: () => 36, overscan: 8 });
  useRowKeys(rows.length, virtual, scroller);
  const sortBy = (k: SortKey): void => setParams((p) => (p.set('dir', p.get('sort') === k && p.get('dir') !== 'desc' ? 'desc' : 'asc'), p.set('sort', k), p), { replace: true });
  const head = (k: SortKey, label: string): ReactNode => (
    <span role="columnheader" aria-sort={params.get('sort') === k || (k === 'id' && !params.get('sort')) ? (params.get('dir') === 'desc' ? 'descending' : 'ascending') : 'none'}>
      <button type="button" onClick={() => sortBy(k)}>{label}</button>
    </span>
  );
  return (
    <>
      <Header title={`Jobs (${rows.length})`}>
        <Can may={{ scope: 'jobs', capability: 'write' }}>
          <Link className="button primary" to="/run">
            Run a job
          </Link>
        </Can>
      </Header>
      <Filters params={params} set={set} />
      {query.error !== null && <ErrorBox error={query.error} />}
      <div className="scroller" ref={scroller} role="table" aria-label="Jobs" aria-rowcount={rows.length + 1} data-testid="jobs-table">
        <div className="vrow head" role="row">
          {head('id', 'Job')}
          {head('type', 'Type')}
          {head('status', 'Status')}
          <span role="columnheader">Allocations</span>
          <span role="columnheader">Groups</span>
          {head('submitTime', 'Submitted')}
        </div>
        <div style={{ height: virtual.getTotalSize(), position: 'relative' }}>
          {virtual.getVirtualItems().map((v) => (
            <div key={rows[v.index].id} className="vrow" role="row" aria-rowindex={v.index + 2} style={{ position: 'absolute', top: 0, left: 0, right: 0, transform: `translateY(${v.start}px)` }}>
              <Row job={rows[v.index]} />
            </div>
          ))}
        </div>
      </div>
    </>
  );
}
