/** The dependency graph of jobs (`after`): cycle checks at submit, and the graph as JSON, DOT or text. */
import { BerthError, isTerminal, type Job } from '../../model/index.ts';
import type { GraphEdge, GraphNode, JobGraph } from '../../api/index.ts';
import type { StateView } from '../../state/index.ts';
import { latestEval } from '../evals/index.ts';
import { lastResult } from './dependencies.ts';

/** The jobs `job` waits for, in either form of `after`. */
export function parentsOf(job: Pick<Job, 'after' | 'dependsOn'>): string[] {
  return [...(job.after ?? []), ...(job.dependsOn ?? []).map((d) => d.job)];
}

/**
 * The cycle `spec` would close among the registered jobs, as a path that starts and ends with the
 * same job (`a -> b -> a`), or undefined.
 */
export function findCycle(view: StateView, spec: Pick<Job, 'id' | 'after' | 'dependsOn'>): string[] | undefined {
  const parents = (id: string): string[] => {
    const job = id === spec.id ? spec : view.job(id);
    return job ? parentsOf(job) : [];
  };
  // Depth-first from the new job up its parents: reaching it again is a cycle.
  const path: string[] = [spec.id];
  const seen = new Set<string>();
  const visit = (id: string): boolean => {
    for (const p of parents(id)) {
      if (p === spec.id) {
        path.push(p);
        return true;
      }
      if (seen.has(p)) continue;
      seen.add(p);
      path.push(p);
      if (visit(p)) return true;
      path.pop();
    }
    return false;
  };
  return visit(spec.id) ? path.reverse() : undefined;
}

/** Throws `invalid_input` naming the cycle when registering `spec` would close one. */
export function checkNoCycle(view: StateView, spec: Pick<Job, 'id' | 'after' | 'dependsOn'>): void {
  if (parentsOf(spec).length === 0) return;
  const cycle = findCycle(view, spec);
  if (!cycle) return;
  const spelled = cycle.join(' -> ');
  // The path runs in start order and ends with the spec: the job before it is the parent that closes it.
  const parent = cycle[cycle.length - 2];
  const index = spec.after?.indexOf(parent) ?? -1;
  const at = index >= 0 ? index : (spec.dependsOn ?? []).findIndex((d) => d.job === parent);
  throw new BerthError('invalid_input', `Cannot register job "${spec.id}": its after list makes a cycle ${spelled}; remove one of these dependencies`, [
    { path: at >= 0 ? `after[${at}]` : 'after', message: `cycle ${spelled}` },
  ]);
}

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
  else node.type = job.type;
  const last = lastResult(view, id);
  if (last) node.last = last.outcome;
  const held = job && !job.stop ? latestEval(view.evalsByJob(id))?.held : undefined;
  if (held && held.length > 0) node.held = held;
  return node;
}

/** The graph in Graphviz DOT: failed jobs red, succeeded green, periodic ones drawn as boxes. */
export function graphDot(graph: JobGraph): string {
  const q = (s: string): string => JSON.stringify(s);
  const lines = ['digraph berth_jobs {', '  rankdir=LR;'];
  for (const n of graph.nodes) {
    const attrs = [`shape=${n.periodic ? 'box' : 'ellipse'}`];
    if (n.last) attrs.push(`color=${n.last === 'complete' ? 'green' : 'red'}`);
    else if (n.held) attrs.push('color=orange');
    if (n.stop) attrs.push('style=dashed');
    lines.push(`  ${q(n.id)} [${attrs.join(', ')}];`);
  }
  for (const e of graph.edges) lines.push(`  ${q(e.from)} -> ${q(e.to)}${e.condition ? ` [label=${e.condition}]` : ''};`);
  lines.push('}');
  return `${lines.join('\n')}\n`;
}
