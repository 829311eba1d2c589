/** The dependency graph of jobs (both forms of `after`), as JSON for the API and the UI, or Graphviz DOT. */
import { isTerminal, type DependencyWait, type JobRun } from '../../model/index.ts';
import type { GraphEdge, GraphNode, JobGraph } from '../../api/index.ts';
import type { StateView } from '../../state/index.ts';
import { latestEval } from '../evals/index.ts';
import { lastResult } from '../periodic/index.ts';
import { jobStatus, summarize } from '../jobs/index.ts';

/** The graph of every job that has parents or dependents (child jobs left out). */
export function jobGraph(view: StateView): JobGraph {
  const jobs = view.jobs().filter((j) => j.parentId === undefined);
  const edges: GraphEdge[] = jobs.flatMap((j) => [
    ...(j.after ?? []).map((p) => ({ from: p, to: j.id })),
    ...(j.dependsOn ?? []).map((d) => ({ from: d.job, to: j.id, condition: d.condition, restart: d.restart })),
  ]);
  const ids = new Set(edges.flatMap((e) => [e.from, e.to]));
  return { nodes: [...ids].sort().map((id) => graphNode(view, id)), edges };
}

function graphNode(view: StateView, id: string): GraphNode {
  const job = view.job(id);
  const allocs = job ? view.allocsByJob(id) : [];
  const node: GraphNode = {
    id,
    periodic: job?.periodic !== undefined,
    parameterized: job?.parameterized !== undefined,
    stop: job?.stop ?? true,
    running: allocs.filter((a) => !isTerminal(a) && a.clientStatus === 'running').length,
  };
  if (!job) node.missing = true;
  else {
    node.type = job.type;
    node.status = jobStatus(job, summarize(job, allocs));
  }
  const last = lastResult(view, id);
  if (last) node.last = last.outcome;
  const held = job && !job.stop ? (latestEval(view.evalsByJob(id))?.held ?? chainHeld(view, id)) : undefined;
  if (held && held.length > 0) node.held = held;
  return node;
}

/** A chained job (`after: [a]`) whose newest run was held by a failed parent: that parent, as a wait. */
function chainHeld(view: StateView, id: string): DependencyWait[] | undefined {
  const newest = view.runsByJob(id).reduce<JobRun | undefined>((a, r) => (a === undefined || r.scheduled > a.scheduled ? r : a), undefined);
  if (newest?.heldBy === undefined) return undefined;
  return [{ job: newest.heldBy.parent, condition: 'completed', reason: newest.reason ?? `parent ${newest.heldBy.parent} failed` }];
}

/** The graph in Graphviz DOT: held jobs orange, failed ones red, succeeded green, periodic ones drawn as boxes. */
export function graphDot(graph: JobGraph): string {
  const q = (s: string): string => JSON.stringify(s);
  const lines = ['digraph berth_jobs {', '  rankdir=LR;'];
  for (const n of graph.nodes) {
    const attrs = [`shape=${n.periodic ? 'box' : 'ellipse'}`];
    if (n.held) attrs.push('color=orange');
    else if (n.last) attrs.push(`color=${n.last === 'complete' ? 'green' : 'red'}`);
    if (n.stop) attrs.push('style=dashed');
    lines.push(`  ${q(n.id)} [${attrs.join(', ')}];`);
  }
  for (const e of graph.edges) lines.push(`  ${q(e.from)} -> ${q(e.to)}${e.condition ? ` [label=${e.condition}]` : ''};`);
  lines.push('}');
  return `${lines.join('\n')}\n`;
}
