/** Job: per-group summary and scale, allocations, versions, deployments, evaluations, runs; stop, purge, restart. */
import { useState, type ReactNode } from 'react';
import { Link, NavLink, useNavigate, useParams, useSearchParams } from 'react-router';
import { useQuery } from '@tanstack/react-query';
import type { GroupSummary } from '../../api/index.ts';
import type { Job } from '../../model/index.ts';
import { api } from '../api.ts';
import { useLive } from '../live.ts';
import { useMay } from '../acl.ts';
import { ActionButton, Can, ErrorBox, Header, Loaded, Status } from '../parts/common.tsx';
import { AllocsTab, DeploymentsTab, EvalsTab, RunsTab, VersionsTab } from './job-tabs.tsx';

function ScaleCell({ jobId, group, count }: { jobId: string; group: string; count: number }): ReactNode {
  const [value, setValue] = useState(String(count));
  if (!useMay({ scope: 'jobs', name: jobId, capability: 'scale' })) return count;
  return (
    <span className="actions">
      <input aria-label={`Count of ${group}`} type="number" min={0} value={value} onChange={(e) => setValue(e.target.value)} style={{ width: 70 }} />
      <ActionButton label="Scale" run={() => api().scaleJob(jobId, group, Number(value))} />
    </span>
  );
}

function Groups({ job, summary }: { job: Job; summary: Record<string, GroupSummary> }): ReactNode {
  return (
    <table aria-label="Groups">
      <thead>
        <tr>
          <th>Group</th>
          <th>Desired</th>
          <th>Pending</th>
          <th>Running</th>
          <th>Complete</th>
          <th>Failed</th>
          <th>Lost</th>
          <th>Count</th>
        </tr>
      </thead>
      <tbody>
        {job.groups.map((g) => {
          const s = summary[g.name] ?? { desired: 0, pending: 0, running: 0, complete: 0, failed: 0, lost: 0 };
          return (
            <tr key={g.name}>
              <td>{g.name}</td>
              <td data-testid={`desired-${g.name}`}>{s.desired}</td>
              <td>{s.pending}</td>
              <td data-testid={`running-${g.name}`}>{s.running}</td>
              <td>{s.complete}</td>
              <td>{s.failed}</td>
              <td>{s.lost}</td>
              <td>{(job.type === 'service' || job.type === 'batch') && !job.periodic && !job.parameterized ? <ScaleCell jobId={job.id} group={g.name} count={g.count} /> : g.count}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

const TABS = ['allocations', 'versions', 'deployments', 'evaluations', 'runs'];

function JobActions({ job }: { job: Job }): ReactNode {
  const navigate = useNavigate();
  const allocs = useLive(['job-allocs', job.id], (o) => api().jobAllocations(job.id, o)).data?.value ?? [];
  const live = allocs.filter((a) => a.desiredStatus === 'run').map((a) => a.id);
  return (
    <>
      {!job.parentId && (
        <Can may={{ scope: 'jobs', name: job.id, capability: 'write' }}>
          <Link className="button" to={`/jobs/${encodeURIComponent(job.id)}/edit`}>
            Edit
          </Link>
        </Can>
      )}
      {live.length > 0 && <ActionButton label="Restart" confirm={`Replace ${live.length} allocations of ${job.id}?`} run={() => api().restartAllocs(job.id, live)} may={{ scope: 'jobs', name: job.id, capability: 'alloc-lifecycle' }} />}
      {!job.stop && <ActionButton label="Stop" danger confirm={`Stop job ${job.id}?`} run={() => api().stopJob(job.id)} may={{ scope: 'jobs', name: job.id, capability: 'write' }} />}
      <ActionButton label="Purge" danger confirm={`Stop and purge ${job.id} with its history?`} run={() => api().stopJob(job.id, true)} onDone={() => navigate('/jobs')} may={{ scope: 'jobs', name: job.id, capability: 'write' }} />
    </>
  );
}

/** The Job page. */
export default function JobPage(): ReactNode {
  const id = useParams().id ?? '';
  const [params] = useSearchParams();
  const tab = params.get('tab') ?? 'allocations';
  const job = useQuery({ queryKey: ['job', id], queryFn: () => api().getJob(id) });
  const summary = useLive(['job-summary', id], (o) => api().jobSummary(id, o));
  return (
    <Loaded query={job}>
      {(j) => (
        <>
          <Header
            title={
              <>
                {j.id} <Status value={j.stop ? 'stopped' : (summary.data?.value.status ?? 'pending')} /> <span className="muted">{j.type} · v{j.version}</span>
              </>
            }
          >
            <JobActions job={j} />
          </Header>
          {summary.error !== null && <ErrorBox error={summary.error} />}
          {summary.data && <Groups job={j} summary={summary.data.value.groups} />}
          <nav className="tabs" aria-label="Job views">
            {TABS.filter((t) => t !== 'runs' || j.periodic || j.parameterized || j.after).map((t) => (
              <NavLink key={t} to={`?tab=${t}`} className={() => (t === tab ? 'active' : '')} aria-current={t === tab ? 'page' : undefined}>
                {t}
              </NavLink>
            ))}
          </nav>
          {tab === 'allocations' && <AllocsTab jobId={j.id} />}
          {tab === 'versions' && <VersionsTab job={j} />}
          {tab === 'deployments' && <DeploymentsTab jobId={j.id} />}
          {tab === 'evaluations' && <EvalsTab jobId={j.id} />}
          {tab === 'runs' && <RunsTab job={j} />}
        </>
      )}
    </Loaded>
  );
}
