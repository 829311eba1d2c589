/** Overview: servers and leader, nodes, jobs and allocations by status, rollouts, failing checks, the live feed. */
import { useSyncExternalStore, type ReactNode } from 'react';
import { Link } from 'react-router';
import { recentEvents } from '../live.ts';
import { useAllHealth, useAllocs, useDeployments, useJobs, useNodes, useServers, useServices } from '../queries.ts';
import { Header, Stat, Status } from '../parts/common.tsx';
import { shortId } from '../format.ts';

function countBy<T>(items: T[], key: (t: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const i of items) out[key(i)] = (out[key(i)] ?? 0) + 1;
  return out;
}

function ClusterStats(): ReactNode {
  const servers = useServers().data ?? [];
  const nodes = useNodes().data?.value ?? [];
  const jobs = useJobs().data?.value ?? [];
  const allocs = useAllocs().data?.value ?? [];
  const nodeStatus = countBy(nodes, (n) => (n.drain ? 'draining' : n.status));
  const jobStatus = countBy(jobs, (j) => j.status);
  const allocStatus = countBy(allocs.filter((a) => a.desiredStatus === 'run' || a.clientStatus === 'running'), (a) => a.clientStatus);
  const leader = servers.find((s) => s.leader);
  return (
    <div className="stats">
      <Stat label={`servers · leader ${leader?.name ?? 'none'}`} value={servers.length} tone={leader ? 'ok' : 'bad'} />
      <Stat label="nodes ready" value={nodeStatus.ready ?? 0} tone="ok" />
      <Stat label="nodes down" value={nodeStatus.down ?? 0} tone={nodeStatus.down ? 'bad' : undefined} />
      <Stat label="nodes draining" value={nodeStatus.draining ?? 0} tone={nodeStatus.draining ? 'warn' : undefined} />
      <Stat label="jobs running" value={jobStatus.running ?? 0} tone="ok" />
      <Stat label="jobs pending" value={jobStatus.pending ?? 0} tone={jobStatus.pending ? 'warn' : undefined} />
      <Stat label="jobs dead" value={jobStatus.dead ?? 0} />
      <Stat label="allocs running" value={allocStatus.running ?? 0} tone="ok" />
      <Stat label="allocs pending" value={allocStatus.pending ?? 0} tone={allocStatus.pending ? 'warn' : undefined} />
      <Stat label="allocs failed" value={allocStatus.failed ?? 0} tone={allocStatus.failed ? 'bad' : undefined} />
    </div>
  );
}

function Rollouts(): ReactNode {
  const live = (useDeployments().data?.value ?? []).filter((d) => d.status === 'running' || d.status === 'paused');
  return (
    <section className="card" aria-labelledby="rollouts">
      <h2 id="rollouts">Deployments in progress</h2>
      {live.length === 0 && <p className="muted">None.</p>}
      <ul className="feed">
        {live.map((d) => {
          const g = Object.values(d.groups);
          const healthy = g.reduce((s, x) => s + x.healthy, 0);
          const desired = g.reduce((s, x) => s + x.desired, 0);
          return (
            <li key={d.id}>
              <Link to={`/jobs/${encodeURIComponent(d.jobId)}?tab=deployments`}>{d.jobId}</Link> v{d.jobVersion} <Status value={d.status} /> {healthy}/{desired} healthy
            </li>
          );
        })}
      </ul>
    </section>
  );
}

function FailingChecks(): ReactNode {
  const names = useServices().data?.value;
  const health = useAllHealth(names ? Object.keys(names) : undefined).data ?? {};
  const failing = Object.values(health).flatMap((entries) => entries.flatMap((e) => e.Checks.filter((c) => c.Status !== 'passing').map((c) => ({ e, c }))));
  return (
    <section className="card" aria-labelledby="checks">
      <h2 id="checks">Failing checks</h2>
      {failing.length === 0 && <p className="muted">None: every check passes.</p>}
      <ul className="feed">
        {failing.map(({ e, c }) => (
          <li key={c.CheckID}>
            <Link to={`/services/${encodeURIComponent(e.Service.Service)}`}>{e.Service.Service}</Link> {c.Name} <Status value={c.Status} /> <span className="muted">{c.Output.slice(0, 120)}</span>
          </li>
        ))}
      </ul>
    </section>
  );
}

/** Where an event points: a link to its page, ids shortened as the CLI prints them (the whole id on hover). */
export function EventTarget({ topic, id }: { topic: string; id: string }): ReactNode {
  const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-/.test(id);
  const short = uuid ? shortId(id) : id;
  if (topic === 'Job') return <Link to={`/jobs/${encodeURIComponent(id)}`}>{id}</Link>;
  if (topic === 'Allocation') return <Link className="mono" to={`/allocations/${id}`} title={id}>{short}</Link>;
  if (topic === 'Node') return <Link className="mono" to={`/nodes?node=${short}`} title={id}>{short}</Link>;
  if (topic === 'KV') return <Link to={`/kv/${id}`}>{id}</Link>;
  return <span className="mono" title={id}>{short}</span>;
}

/** The live feed of recent events. */
export function EventFeed({ limit = 30 }: { limit?: number }): ReactNode {
  const events = useSyncExternalStore(recentEvents.subscribe, recentEvents.get).slice(0, limit);
  return (
    <ul className="feed events" aria-live="polite">
      {events.length === 0 && <li className="muted">Waiting for changes…</li>}
      {events.map((e, i) => (
        <li key={`${e.Index}-${e.Key}-${i}`}>
          <span className="mono">#{e.Index}</span> <strong>{e.Type}</strong> <EventTarget topic={e.Topic} id={e.Key} />
        </li>
      ))}
    </ul>
  );
}

/** The Overview page. */
export function Overview(): ReactNode {
  return (
    <>
      <Header title="Overview" />
      <ClusterStats />
      <div className="grid2">
        <Rollouts />
        <FailingChecks />
        <section className="card" aria-labelledby="feed">
          <h2 id="feed">Recent events</h2>
          <EventFeed />
        </section>
      </div>
    </>
  );
}
