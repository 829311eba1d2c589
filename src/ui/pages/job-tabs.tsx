/** The tabs of the Job page: allocations, versions, deployments, evaluations, runs. */
import { useState, type ReactNode } from 'react';
import { Link } from 'react-router';
import { useQuery } from '@tanstack/react-query';
import type { Allocation, Deployment, Evaluation, Job, JobRun } from '../../model/index.ts';
import { api } from '../api.ts';
import { useLive } from '../live.ts';
import { ActionButton, Can, Loaded, Meter, Status, Time } from '../parts/common.tsx';
import { DiffView } from '../parts/diff.tsx';
import { HeldBy, PlacementFailureView } from '../parts/placement.tsx';
import { shortId } from '../format.ts';

/** The allocations of a job, live. */
export function AllocTable({ allocs }: { allocs: Allocation[] }): ReactNode {
  const sorted = [...allocs].sort((a, b) => b.createTime - a.createTime);
  return (
    <table aria-label="Allocations">
      <thead>
        <tr>
          <th>ID</th>
          <th>Name</th>
          <th>Node</th>
          <th>Version</th>
          <th>Desired</th>
          <th>Status</th>
          <th>Health</th>
          <th>Created</th>
        </tr>
      </thead>
      <tbody>
        {sorted.map((a) => (
          <tr key={a.id}>
            <td>
              <Link className="mono" to={`/allocations/${a.id}`}>
                {shortId(a.id)}
              </Link>
            </td>
            <td>
              {a.name} {a.canary && <Status value="canary" />}
            </td>
            <td className="mono">
              <Link to={`/nodes?node=${shortId(a.nodeId)}`}>{shortId(a.nodeId)}</Link>
            </td>
            <td>v{a.jobVersion}</td>
            <td>{a.desiredStatus}</td>
            <td>
              <Status value={a.clientStatus} />
            </td>
            <td>{a.deploymentHealth ? <Status value={a.deploymentHealth.healthy ? 'healthy' : 'unhealthy'} /> : <span className="muted">-</span>}</td>
            <td>
              <Time ms={a.createTime} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The job's allocations tab. */
export function AllocsTab({ jobId }: { jobId: string }): ReactNode {
  const q = useLive(['job-allocs', jobId], (o) => api().jobAllocations(jobId, o));
  return <Loaded query={q}>{(d) => <AllocTable allocs={d.value} />}</Loaded>;
}

/** Versions with the diff of each from the one before, and revert. */
export function VersionsTab({ job }: { job: Job }): ReactNode {
  const q = useQuery({ queryKey: ['versions', job.id], queryFn: () => api().jobVersions(job.id) });
  return (
    <Loaded query={q}>
      {(d) => (
        <div>
          {d.versions.map((v) => (
            <section key={v.version} className="card" style={{ marginBottom: 8 }}>
              <h2>
                Version {v.version} {v.version === job.version && <Status value="current" />} {v.stable && <Status value="stable" />} <Time ms={v.submitTime} />
              </h2>
              {d.diffs.some((x) => x.to === v.version) ? <DiffView diff={d.diffs.find((x) => x.to === v.version)?.diff} /> : <p className="muted">The oldest version kept.</p>}
              {v.version !== job.version && <ActionButton label={`Revert to v${v.version}`} confirm={`Register version ${v.version} of ${job.id} again?`} run={() => api().revertJob(job.id, v.version)} may={{ scope: 'jobs', name: job.id, capability: 'write' }} />}
            </section>
          ))}
        </div>
      )}
    </Loaded>
  );
}

function DeploymentCard({ d }: { d: Deployment }): ReactNode {
  const live = d.status === 'running' || d.status === 'paused';
  const canaries = Object.values(d.groups).some((g) => g.desiredCanaries > 0 && !g.promoted);
  return (
    <section className="card" style={{ marginBottom: 8 }} data-testid="deployment">
      <h2>
        <span className="mono">{shortId(d.id)}</span> v{d.jobVersion} <Status value={d.status} /> <Time ms={d.createTime} />
      </h2>
      <p className="muted">{d.statusDescription}</p>
      <table aria-label={`Groups of deployment ${shortId(d.id)}`}>
        <thead>
          <tr>
            <th>Group</th>
            <th>Desired</th>
            <th>Canaries</th>
            <th>Placed</th>
            <th>Healthy</th>
            <th>Unhealthy</th>
            <th>Progress</th>
          </tr>
        </thead>
        <tbody>
          {Object.entries(d.groups).map(([name, g]) => (
            <tr key={name}>
              <td>{name}</td>
              <td>{g.desired}</td>
              <td>
                {g.canaries.length}/{g.desiredCanaries} {g.promoted && '(promoted)'}
              </td>
              <td>{g.placed}</td>
              <td data-testid="healthy">{g.healthy}</td>
              <td>{g.unhealthy}</td>
              <td>
                <Meter used={g.healthy} total={g.desired} label={`${name}: ${g.healthy} of ${g.desired} healthy`} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {live && (
        <div className="actions" style={{ marginTop: 8 }}>
          {canaries && <ActionButton label="Promote" run={() => api().deploymentAction(d.id, 'promote')} may={{ scope: 'jobs', name: d.jobId, capability: 'write' }} />}
          {d.status === 'running' && <ActionButton label="Pause" run={() => api().deploymentAction(d.id, 'pause')} may={{ scope: 'jobs', name: d.jobId, capability: 'write' }} />}
          {d.status === 'paused' && <ActionButton label="Resume" run={() => api().deploymentAction(d.id, 'resume')} may={{ scope: 'jobs', name: d.jobId, capability: 'write' }} />}
          <ActionButton label="Fail" danger confirm="Fail this deployment?" run={() => api().deploymentAction(d.id, 'fail')} may={{ scope: 'jobs', name: d.jobId, capability: 'write' }} />
        </div>
      )}
    </section>
  );
}

/** Deployments with live progress and their actions. */
export function DeploymentsTab({ jobId }: { jobId: string }): ReactNode {
  const q = useLive(['deployments'], (o) => api().watchDeployments(o));
  return <Loaded query={q}>{(d) => <>{d.value.filter((x) => x.jobId === jobId).map((x) => <DeploymentCard key={x.id} d={x} />)}</>}</Loaded>;
}

function EvalCard({ e }: { e: Evaluation }): ReactNode {
  return (
    <section className="card" style={{ marginBottom: 8 }}>
      <h2>
        <span className="mono">{shortId(e.id)}</span> {e.triggeredBy} <Status value={e.status} /> <Time ms={e.createTime} />
      </h2>
      {e.statusDescription && <p className="muted">{e.statusDescription}</p>}
      <HeldBy held={e.held} />
      {e.failures.map((f) => (
        <PlacementFailureView key={f.group} f={f} />
      ))}
    </section>
  );
}

/** Evaluations with their placement failures. */
export function EvalsTab({ jobId }: { jobId: string }): ReactNode {
  const q = useQuery({ queryKey: ['evals', jobId], queryFn: () => api().jobEvaluations(jobId) });
  return <Loaded query={q}>{(d) => <>{[...d].sort((a, b) => b.createTime - a.createTime).map((e) => <EvalCard key={e.id} e={e} />)}</>}</Loaded>;
}

/** `k=v` lines (or comma-separated) as meta; a line without `=` is an error naming it. */
export function parseMeta(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(/[\n,]/).map((x) => x.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new Error(`meta "${part}" is not key=value: write it as name=value`);
    out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return out;
}

/** The text as base64, as the dispatch body carries a payload. */
function base64(text: string): string {
  return btoa(String.fromCharCode(...new TextEncoder().encode(text)));
}

/** What a force or a dispatch launched: a link to the child job. */
function Launched({ run }: { run?: JobRun }): ReactNode {
  if (!run) return null;
  return (
    <p role="status" data-testid="launched">
      Launched {run.childId ? <Link to={`/jobs/${encodeURIComponent(run.childId)}`}>{run.childId}</Link> : 'nothing'} {run.reason && <span className="muted">({run.reason})</span>}
    </p>
  );
}

/** Dispatch a parameterized job: meta and a payload; the server's error shown beside it. */
function Dispatch({ job, onRun }: { job: Job; onRun: (r: JobRun) => void }): ReactNode {
  const [meta, setMeta] = useState('');
  const [payload, setPayload] = useState('');
  // A meta line that is not key=value throws before any request; ActionButton shows it beside the button.
  const run = (): Promise<JobRun> => api().dispatchJob(job.id, { meta: parseMeta(meta), ...(payload ? { payload: base64(payload) } : {}) });
  return (
    <Can may={{ scope: 'jobs', name: job.id, capability: 'dispatch' }}>
      <fieldset className="card dispatch">
        <legend>Dispatch</legend>
        <label>
          Meta (key=value, one a line) <textarea rows={2} value={meta} onChange={(e) => setMeta(e.target.value)} />
        </label>
        <label>
          Payload <textarea rows={2} value={payload} onChange={(e) => setPayload(e.target.value)} />
        </label>
        <ActionButton label="Dispatch" run={async () => run()} onDone={(r) => onRun(r as JobRun)} />
      </fieldset>
    </Can>
  );
}

/** Periodic and parameterized jobs: next launches, run history, force, dispatch. */
export function RunsTab({ job }: { job: Job }): ReactNode {
  const q = useQuery({ queryKey: ['runs', job.id], queryFn: () => api().jobRuns(job.id) });
  const [launched, setLaunched] = useState<JobRun>();
  return (
    <Loaded query={q}>
      {(d) => (
        <div>
          <div className="actions">
            {job.periodic && <ActionButton label="Force a launch now" run={() => api().forcePeriodic(job.id)} onDone={(r) => setLaunched(r as JobRun)} may={{ scope: 'jobs', name: job.id, capability: 'write' }} />}
            {job.parameterized && <Dispatch job={job} onRun={setLaunched} />}
          </div>
          <Launched run={launched} />
          {d.next.length > 0 && (
            <p>
              Next launches: {d.next.map((n) => <Time key={n} ms={n} />).reduce<ReactNode[]>((acc, t, i) => (i ? [...acc, ', ', t] : [t]), [])}
            </p>
          )}
          {d.runs.length === 0 && <p className="muted">No runs yet.</p>}
          <table aria-label="Runs" hidden={d.runs.length === 0}>
            <thead>
              <tr>
                <th>Scheduled</th>
                <th>Trigger</th>
                <th>Child</th>
                <th>Outcome</th>
                <th>Reason</th>
              </tr>
            </thead>
            <tbody>
              {d.runs.map((r) => (
                <tr key={`${r.scheduled}-${r.childId}`}>
                  <td>
                    <Time ms={r.scheduled} />
                  </td>
                  <td>{r.trigger}</td>
                  <td>{r.childId ? <Link to={`/jobs/${encodeURIComponent(r.childId)}`}>{r.childId}</Link> : '-'}</td>
                  <td>
                    <Status value={r.outcome} />
                  </td>
                  <td>{r.reason ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Loaded>
  );
}

