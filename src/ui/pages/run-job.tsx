/**
 * Run or edit a job, Terraform's way in the browser: the spec checked by the server as you type
 * (a dry-run plan; its problems shown at their lines), the plan (diff by group, placements and
 * why some fail), then apply with the plan's check index, then the deployment's progress.
 */
import { useEffect, useState, type ReactNode } from 'react';
import { Link, useParams } from 'react-router';
import { useQuery } from '@tanstack/react-query';
import type { JobPlanResponse, JobRegisterResponse } from '../../api/index.ts';
import { api } from '../api.ts';
import { useMay } from '../acl.ts';
import { errorText } from '../format.ts';
import { ErrorBox, Header, Status } from '../parts/common.tsx';
import { DiffView } from '../parts/diff.tsx';
import { HeldBy, PlacementFailureView } from '../parts/placement.tsx';
import { SpecEditor, type SpecProblem } from '../parts/spec-editor.tsx';
import { DeploymentsTab } from './job-tabs.tsx';
import { specOf } from '../spec-text.ts';

const STARTER = `id: example
type: service
groups:
  - name: web
    count: 2
    tasks:
      - name: web
        driver: process
        config:
          command: /bin/sh
          args: ["-c", "while true; do echo hello; sleep 5; done"]
        resources:
          cpu: 50m
          memory: 32Mi
`;

/** The job id a spec names, read loosely (the server reads it properly). */
function idOf(text: string): string | undefined {
  return /^id:\s*["']?([^\s"'#]+)/m.exec(text)?.[1];
}

function PlanView({ plan }: { plan: JobPlanResponse }): ReactNode {
  return (
    <section className="card" aria-labelledby="plan" data-testid="plan">
      <h2 id="plan">
        Plan: version {plan.version} {plan.changed ? '' : '(no change)'}
      </h2>
      <table aria-label="Changes by group">
        <thead>
          <tr>
            <th>Group</th>
            <th>Create</th>
            <th>Destroy</th>
            <th>In place</th>
            <th>Destructive</th>
            <th>Canaries</th>
          </tr>
        </thead>
        <tbody>
          {Object.entries(plan.groups).map(([g, c]) => (
            <tr key={g}>
              <td>{g}</td>
              <td>{c.place}</td>
              <td>{c.stop}</td>
              <td>{c.inplace}</td>
              <td>{c.destructive}</td>
              <td>{c.canary ?? 0}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>Diff</h2>
      <DiffView diff={plan.diff} />
      {plan.placements.length > 0 && <p>Placements: {plan.placements.map((p) => `${p.name} → ${p.nodeName}`).join(', ')}</p>}
      <HeldBy held={plan.held} />
      {plan.failures.length > 0 && (
        <div className="error" data-testid="plan-failures">
          {plan.failures.map((f) => (
            <PlacementFailureView key={f.group} f={f} />
          ))}
        </div>
      )}
    </section>
  );
}

/** The spec to start from: the job's stored spec when editing, else a starter. */
function useInitialSpec(id: string | undefined): string | undefined {
  const spec = useQuery({
    queryKey: ['job-spec', id],
    enabled: id !== undefined,
    queryFn: async () => {
      const [{ stringify }, job] = await Promise.all([import('yaml'), api().getJob(id!)]);
      return stringify(specOf(job));
    },
  });
  return id === undefined ? STARTER : spec.data;
}

/** Plan the text after a pause in typing; the plan or the problems. */
function usePlan(text: string): { plan?: JobPlanResponse; error?: unknown; problems: SpecProblem[] } {
  const [state, setState] = useState<{ plan?: JobPlanResponse; error?: unknown; problems: SpecProblem[] }>({ problems: [] });
  useEffect(() => {
    const id = idOf(text);
    const timer = setTimeout(() => {
      if (!id) return setState({ problems: [{ path: 'id', message: 'is required' }], error: new Error('The spec names no job id: add `id: <name>`') });
      api()
        .planJob(id, text, 'yaml')
        .then((plan) => setState({ plan, problems: [] }))
        .catch((error) => setState({ error, problems: errorText(error).details.length ? errorText(error).details : [{ path: '', message: errorText(error).message }] }));
    }, 400);
    return () => clearTimeout(timer);
  }, [text]);
  return state;
}

function Editor({ initial }: { initial: string }): ReactNode {
  const [text, setText] = useState(initial);
  const { plan, error, problems } = usePlan(text);
  const id = idOf(text);
  const mayApply = useMay(id === undefined ? { scope: 'jobs', capability: 'write' } : { scope: 'jobs', name: id, capability: 'write' });
  const [applied, setApplied] = useState<JobRegisterResponse>();
  const [applyError, setApplyError] = useState<unknown>();
  const apply = async (): Promise<void> => {
    setApplyError(undefined);
    try {
      setApplied(await api().registerJob(text, 'yaml', { checkIndex: plan?.modifyIndex }));
    } catch (err) {
      setApplyError(err);
    }
  };
  return (
    <>
      <SpecEditor value={initial} onChange={setText} problems={problems} />
      <div className="actions" style={{ margin: '10px 0' }}>
        {mayApply ? (
          <button type="button" className="primary" disabled={!plan || !!error} onClick={() => void apply()}>
            Apply plan
          </button>
        ) : (
          <span className="muted">Your token may not register this job: plan only.</span>
        )}
        {applied && (
          <span>
            Applied: <Link to={`/jobs/${encodeURIComponent(applied.jobId)}`}>{applied.jobId}</Link> version {applied.version} <Status value="submitted" />
          </span>
        )}
      </div>
      <ErrorBox error={applyError} />
      {error !== undefined && <ErrorBox error={error} />}
      {plan && !applied && <PlanView plan={plan} />}
      {applied && (
        <>
          <h2>Deployment</h2>
          <DeploymentsTab jobId={applied.jobId} />
        </>
      )}
    </>
  );
}

/** The Run and Edit page. */
export default function RunJob(): ReactNode {
  const { id } = useParams();
  const initial = useInitialSpec(id);
  return (
    <>
      <Header title={id ? `Edit ${id}` : 'Run a job'} />
      {initial === undefined ? <p className="muted">Loading…</p> : <Editor key={id ?? ''} initial={initial} />}
    </>
  );
}
