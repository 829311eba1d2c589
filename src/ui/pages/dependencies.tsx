/**
 * Dependencies (Chronos' graph): the DAG of `after` dependencies, each job coloured by how it last
 * finished, live; a click selects a job for its runs and actions. Laid out by dagre, drawn by
 * React Flow.
 */
import { useMemo, useState, type ReactNode } from 'react';
import { Link } from 'react-router';
import { useQuery } from '@tanstack/react-query';
import { ReactFlow, Background, Controls, type Edge, type Node as FlowNode } from '@xyflow/react';
import '@xyflow/react/dist/style.css';
import dagre from '@dagrejs/dagre';
import type { JobGraph, JobGraphNode } from '../../api/index.ts';
import { api } from '../api.ts';
import { ActionButton, Header, Loaded, Status } from '../parts/common.tsx';
import { RunsTab } from './job-tabs.tsx';

const WIDTH = 180;
const HEIGHT = 48;

function stateOf(n: JobGraphNode): string {
  if (n.stop) return 'stopped';
  return n.last ?? 'pending';
}

/** Positions from dagre, left to right. */
function layout(graph: JobGraph): { nodes: FlowNode[]; edges: Edge[] } {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: 'LR', nodesep: 24, ranksep: 60 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of graph.nodes) g.setNode(n.id, { width: WIDTH, height: HEIGHT });
  for (const e of graph.edges) g.setEdge(e.from, e.to);
  dagre.layout(g);
  const nodes: FlowNode[] = graph.nodes.map((n) => {
    const p = g.node(n.id);
    return {
      id: n.id,
      position: { x: p.x - WIDTH / 2, y: p.y - HEIGHT / 2 },
      data: { label: `${n.id}${n.periodic ? ' ⏱' : ''} · ${stateOf(n)}` },
      className: `dag-node badge s-${stateOf(n)}`,
      style: { width: WIDTH },
      ariaLabel: `job ${n.id}, ${stateOf(n)}`,
    };
  });
  const edges: Edge[] = graph.edges.map((e) => ({ id: `${e.from}->${e.to}`, source: e.from, target: e.to, animated: graph.nodes.find((n) => n.id === e.from)?.last === undefined }));
  return { nodes, edges };
}

function Selected({ id }: { id: string }): ReactNode {
  const job = useQuery({ queryKey: ['job', id], queryFn: () => api().getJob(id) });
  return (
    <Loaded query={job}>
      {(j) => (
        <section className="card" style={{ marginTop: 12 }}>
          <h2>
            <Link to={`/jobs/${encodeURIComponent(j.id)}?tab=runs`}>{j.id}</Link> {j.after && <span className="muted">after {j.after.join(', ')}</span>}
          </h2>
          <div className="actions">{j.periodic && <ActionButton label="Run now" run={() => api().forcePeriodic(j.id)} />}</div>
          <RunsTab job={j} />
        </section>
      )}
    </Loaded>
  );
}

/** The Dependencies page. */
export default function Dependencies(): ReactNode {
  const q = useQuery({ queryKey: ['graph'], queryFn: () => api().dependencyGraph() });
  const [selected, setSelected] = useState<string>();
  const drawn = useMemo(() => (q.data ? layout(q.data) : undefined), [q.data]);
  return (
    <>
      <Header title="Dependencies" />
      <p className="muted">
        Jobs that run <code>after</code> others, coloured by how each last finished: <Status value="complete" /> <Status value="failed" /> <Status value="pending" />
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
      {selected && <Selected id={selected} />}
    </>
  );
}
