/** Allocation: task states and events as a timeline, live logs, an exec terminal, cpu and memory, services and checks. */
import { useMemo, useState, type ReactNode } from 'react';
import { Link, useParams, useSearchParams } from 'react-router';
import type { Allocation, TaskState } from '../../model/index.ts';
import { api } from '../api.ts';
import { useLive } from '../live.ts';
import { useAllHealth, useNodes, useServices } from '../queries.ts';
import { ActionButton, Can, CheckOutput, Header, Loaded, Status, Time } from '../parts/common.tsx';
import { Logs } from '../parts/logs.tsx';
import { ExecTerminal } from '../parts/terminal.tsx';
import { UsageChart } from '../parts/usage-chart.tsx';
import { shortId } from '../format.ts';

function Timeline({ name, state }: { name: string; state: TaskState }): ReactNode {
  return (
    <section className="card">
      <h2>
        Task {name} <Status value={state.failed ? 'failed' : state.state} /> <span className="muted">restarts {state.restarts}</span>
      </h2>
      <ol className="timeline">
        {[...state.events].reverse().map((e, i) => (
          <li key={i}>
            <Time ms={e.time} /> <strong>{e.type}</strong> {e.message}
          </li>
        ))}
      </ol>
    </section>
  );
}

function Checks({ alloc }: { alloc: Allocation }): ReactNode {
  const names = useServices().data?.value;
  const health = useAllHealth(names ? Object.keys(names) : undefined).data ?? {};
  const mine = Object.values(health).flatMap((es) => es.filter((e) => e.Service.ID.includes(alloc.id)));
  if (mine.length === 0) return <p className="muted">No services.</p>;
  return (
    <ul>
      {mine.map((e) => (
        <li key={e.Service.ID}>
          <Link to={`/services/${encodeURIComponent(e.Service.Service)}`}>{e.Service.Service}</Link> {e.Service.Address}:{e.Service.Port}
          <ul>
            {e.Checks.map((c) => (
              <li key={c.CheckID}>
                {c.Name} <Status value={c.Status} /> <CheckOutput text={c.Output} />
              </li>
            ))}
          </ul>
        </li>
      ))}
    </ul>
  );
}

function Exec({ alloc, task }: { alloc: Allocation; task: string }): ReactNode {
  const [command, setCommand] = useState('/bin/sh');
  const [open, setOpen] = useState<string[]>();
  const argv = useMemo(() => command.trim().split(/\s+/), [command]);
  return (
    <div>
      <div className="toolbar">
        <label>
          Command <input value={command} onChange={(e) => setCommand(e.target.value)} />
        </label>
        <Can may={{ scope: 'jobs', name: alloc.jobId, capability: 'alloc-exec' }}>
          <button type="button" onClick={() => setOpen(argv)}>
            Open terminal
          </button>
        </Can>
      </div>
      {open && <ExecTerminal key={open.join(' ')} allocId={alloc.id} task={task} command={open} />}
    </div>
  );
}

function AllocBody({ alloc }: { alloc: Allocation }): ReactNode {
  const [params, setParams] = useSearchParams();
  const tasks = Object.keys(alloc.taskStates);
  const task = params.get('task') ?? tasks[0] ?? '';
  const nodeName = useNodes().data?.value.find((n) => n.id === alloc.nodeId)?.name;
  return (
    <>
      <dl className="props">
        <dt>Job</dt>
        <dd>
          <Link to={`/jobs/${encodeURIComponent(alloc.jobId)}`}>{alloc.jobId}</Link> v{alloc.jobVersion}
        </dd>
        <dt>Node</dt>
        <dd>
          <Link to={`/nodes?node=${shortId(alloc.nodeId)}`}>{nodeName ?? shortId(alloc.nodeId)}</Link> <span className="mono muted">{shortId(alloc.nodeId)}</span>
        </dd>
        <dt>Desired</dt>
        <dd>{alloc.desiredStatus} {alloc.desiredDescription}</dd>
        <dt>Resources</dt>
        <dd>
          {alloc.resources.cpu} cores, {alloc.resources.memoryMiB} MiB
        </dd>
        <dt>Created</dt>
        <dd>
          <Time ms={alloc.createTime} />
        </dd>
      </dl>
      <div className="grid2" style={{ marginTop: 12 }}>
        {Object.entries(alloc.taskStates).map(([n, s]) => (
          <Timeline key={n} name={n} state={s} />
        ))}
      </div>
      <h2>Usage</h2>
      {alloc.clientStatus === 'running' ? <UsageChart allocId={alloc.id} reservedMiB={alloc.resources.memoryMiB} /> : <p className="muted">Not running.</p>}
      <h2>Services and checks</h2>
      <Checks alloc={alloc} />
      <h2>Logs</h2>
      {tasks.length > 1 && (
        <label>
          Task
          <select value={task} onChange={(e) => setParams({ task: e.target.value }, { replace: true })}>
            {tasks.map((t) => (
              <option key={t}>{t}</option>
            ))}
          </select>
        </label>
      )}
      {task ? <Logs allocId={alloc.id} task={task} /> : <p className="muted">No task has started yet.</p>}
      <h2>Exec</h2>
      {alloc.clientStatus === 'running' && task ? <Exec alloc={alloc} task={task} /> : <p className="muted">Not running.</p>}
    </>
  );
}

/** The Allocation page. */
export default function AllocPage(): ReactNode {
  const id = useParams().id ?? '';
  const q = useLive(['alloc', id], (o) => api().getAllocation(id, o));
  return (
    <Loaded query={q}>
      {({ value: a }) => (
        <>
          <Header
            title={
              <>
                Allocation <span className="mono">{shortId(a.id)}</span> {a.name} <Status value={a.clientStatus} />
              </>
            }
          >
            <ActionButton label="Restart" run={() => api().restartAllocation(a.id)} may={{ scope: 'jobs', name: a.jobId, capability: 'alloc-lifecycle' }} />
            <ActionButton label="Stop" danger confirm="Stop this allocation? The scheduler places a replacement." run={() => api().stopAllocation(a.id)} may={{ scope: 'jobs', name: a.jobId, capability: 'alloc-lifecycle' }} />
          </Header>
          <AllocBody alloc={a} />
        </>
      )}
    </Loaded>
  );
}
