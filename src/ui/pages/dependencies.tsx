/**
 * Dependencies (Chronos' graph): the DAG of `after` dependencies, each job coloured by how it last
 * finished, live; a click selects a job for its runs and actions. Laid out by dagre, drawn by
 * React Flow.
 */
import { useMemo, type ReactNode } from 'react';
import { Link, useSearchParams } from 'react-router';
import { useQuery } from '@tanstack/react-query';
import { ReactFlow, Background, Controls, Position, type Edge, type Node as FlowNode } from '@xyflow/react';
import '@xyflow/react/dist/style.css';
import dagre from '@dagrejs/dagre';
import type { GraphEdge, GraphNode, JobGraph } from '../../api/index.ts';
import { api } from '../api.ts';
import { ActionButton, Can, Header, Loaded, Status } from '../parts/common.tsx';
import { RunsTab } from './job-tabs.tsx';

const WIDTH = 180;
const HEIGHT = 48;

/** Colours by state, from the page's variables (light and dark). */
const TONE: Record<string, [string, string]> = {
  complete: ['var(--okbg)', 'var(--ok)'],
  running: ['var(--bg2)', 'var(--ok)'],
  failed: ['var(--badbg)', 'var(--bad)'],
  held: ['var(--warnbg)', 'var(--warn)'],
  pending: ['var(--bg2)', 'var(--muted)'],
  stopped: ['var(--bg2)', 'var(--muted)'],
};

/**
 * Each job's state: how it last finished; a job that has not run since a parent failed (or was
 * held) is held, as the server holds it.
 */
function states(graph: JobGraph): Map<string, string> {
  const parents = new Map<string, string[]>();
  for (const e of graph.edges) parents.set(e.to, [...(parents.get(e.to) ?? []), e.from]);
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const out = new Map<string, string>();
  const visit = (id: string, seen: Set<string>): string => {
    const known = out.get(id);
    if (known) return known;
    const n = byId.get(id);
    // A service has no last run: it is running or not yet.
    let state = n?.stop ? 'stopped' : (n?.last ?? ((n?.running ?? 0) > 0 ? 'running' : 'pending'));
    // The server's word first: a job whose newest evaluation waited for a dependency is held.
    if (n?.held?.length && state !== 'complete') state = 'held';
    if (state === 'pending' && !seen.has(id)) {
      const up = (parents.get(id) ?? []).map((p) => visit(p, new Set([...seen, id])));
      if (up.some((s) => s === 'failed' || s === 'held')) state = 'held';
    }
    out.set(id, state);
    return state;
  };
  for (const n of graph.nodes) visit(n.id, new Set());
  return out;
}

/** What an edge waits for: its condition (the short form `after: [a]` waits for a's run to complete), and restart when set. */
function edgeLabel(e: GraphEdge): string {
  return `${e.condition ?? 'completed'}${e.restart ? ' · restart' : ''}`;
}

/** Positions from dagre, left to right. */
function layout(graph: JobGraph): { nodes: FlowNode[]; edges: Edge[] } {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: 'LR', nodesep: 24, ranksep: 60 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of graph.nodes) g.setNode(n.id, { width: WIDTH, height: HEIGHT });
  for (const e of graph.edges) g.setEdge(e.from, e.to);
  dagre.layout(g);
  const state = states(graph);
  const nodes: FlowNode[] = graph.nodes.map((n) => {
    const p = g.node(n.id);
    const s = state.get(n.id) ?? 'pending';
    const [background, color] = TONE[s] ?? TONE.pending;
    return {
      id: n.id,
      position: { x: p.x - WIDTH / 2, y: p.y - HEIGHT / 2 },
      sourcePosition: Position.Right,
      targetPosition: Position.Left,
      data: { label: `${n.id}${n.periodic ? ' (periodic)' : ''} · ${s}` },
      className: 'dag-node',
      style: { width: WIDTH, background, color, borderColor: color },
      ariaLabel: `job ${n.id}, ${s}`,
    };
  });
  const edges: Edge[] = graph.edges.map((e) => ({
    id: `${e.from}->${e.to}`,
    source: e.from,
    target: e.to,
    label: edgeLabel(e),
    labelBgStyle: { fill: 'var(--bg)' },
    labelStyle: { fill: 'var(--fg)' },
    animated: state.get(e.from) === 'pending',
  }));
  return { nodes, edges };
}

/** What holds a job, in the server's words: one line per dependency not met. */
function HeldList({ node }: { node: GraphNode }): ReactNode {
  if (!node.held?.length) return null;
  return (
    <ul className="held" aria-label={`What holds ${node.id}`}>
      {node.held.map((h) => (
        <li key={`${h.job}-${h.condition}`}>
          waits for <strong>{h.job}</strong> to be {h.condition}: <span className="muted">{h.reason}</span>
        </li>
      ))}
    </ul>
  );
}

/**
 * A failed job's way on: mark its newest failed run successful (its dependents go on), or run it
 * again: a periodic job launches now (force); any other is registered again from its edit page.
 */
function FailedActions({ id, periodic }: { id: string; periodic: boolean }): ReactNode {
  return (
    <>
      <ActionButton label="Mark successful" confirm={`Mark the newest failed run of ${id} successful? Its dependents will go on.`} run={() => api().markSuccess(id)} may={{ scope: 'jobs', name: id, capability: 'write' }} />
      {periodic ? (
        <ActionButton label="Run again" run={() => api().forcePeriodic(id)} may={{ scope: 'jobs', name: id, capability: 'write' }} />
      ) : (
        <Can may={{ scope: 'jobs', name: id, capability: 'write' }}>
          <Link to={`/jobs/${encodeURIComponent(id)}/edit`}>Edit and run again</Link>
        </Can>
      )}
    </>
  );
}

function Selected({ id, node }: { id: string; node?: GraphNode }): ReactNode {
  const job = useQuery({ queryKey: ['job', id], queryFn: () => api().getJob(id) });
  return (
    <Loaded query={job}>
      {(j) => (
        <section className="card" style={{ marginTop: 12 }} aria-label={`Job ${j.id}`}>
          <h2>
            <Link to={`/jobs/${encodeURIComponent(j.id)}?tab=runs`}>{j.id}</Link> {j.after && <span className="muted">after {j.after.join(', ')}</span>}
          </h2>
          {node && <HeldList node={node} />}
          <div className="actions">
            {node?.last === 'failed' ? <FailedActions id={j.id} periodic={!!j.periodic} /> : j.periodic && <ActionButton label="Run now" run={() => api().forcePeriodic(j.id)} may={{ scope: 'jobs', name: j.id, capability: 'write' }} />}
          </div>
          <RunsTab job={j} />
        </section>
      )}
    </Loaded>
  );
}

/** The Dependencies page. */
export default function Dependencies(): ReactNode {
  const q = useQuery({ queryKey: ['graph'], queryFn: () => api().dependencyGraph() });
  // The chosen job is in the URL (`?job=`), so the view can be shared and the back button returns.
  const [params, setParams] = useSearchParams();
  const selected = params.get('job') ?? undefined;
  const setSelected = (id: string): void => setParams({ job: id });
  const drawn = useMemo(() => (q.data ? layout(q.data) : undefined), [q.data]);
  return (
    <>
      <Header title="Dependencies" />
      <p className="muted">
        Jobs that run <code>after</code> others, coloured by how each last finished: <Status value="complete" /> <Status value="failed" /> <Status value="held" /> (waiting for a dependency) <Status value="running" /> <Status value="pending" />
      </p>
      <Loaded query={q}>
        {(g) =>
          g.nodes.length === 0 ? (
            <p className="muted">No job has an after list.</p>
          ) : (
            <div className="dag" data-testid="dag">
              <ReactFlow nodes={drawn!.nodes} edges={drawn!.edges} fitView nodesDraggable={false} onNodeClick={(_e, n) => setSelected(n.id)} proOptions={{ hideAttribution: true }} colorMode="system">
                <Background />
                <Controls showInteractive={false} />
              </ReactFlow>
            </div>
          )
        }
      </Loaded>
      {q.data && q.data.nodes.length > 0 && (
        <details>
          <summary>The same as a list</summary>
          <ul>
            {q.data.nodes.map((n) => (
              <li key={n.id}>
                <button type="button" onClick={() => setSelected(n.id)}>
                  {n.id}
                </button>{' '}
                <Status value={states(q.data!).get(n.id) ?? 'pending'} /> {q.data!.edges.filter((e) => e.to === n.id).length > 0 && <span className="muted">after {q.data!.edges.filter((e) => e.to === n.id).map((e) => `${e.from} (${edgeLabel(e)})`).join(', ')}</span>}
              </li>
            ))}
          </ul>
        </details>
      )}
      {q.data?.nodes.some((n) => n.held?.length) && (
        <section className="card" aria-label="Held jobs" data-testid="held">
          <h2>Held</h2>
          {q.data.nodes
            .filter((n) => n.held?.length)
            .map((n) => (
              <div key={n.id}>
                <button type="button" onClick={() => setSelected(n.id)}>
                  {n.id}
                </button>
                <HeldList node={n} />
              </div>
            ))}
        </section>
      )}
      {selected && <Selected id={selected} node={q.data?.nodes.find((n) => n.id === selected)} />}
    </>
  );
}
