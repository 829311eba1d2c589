/** The dependency graph of jobs (`after`): cycle checks at submit, and the graph as JSON or DOT. */
import { BerthError, type Job } from '../../model/index.ts';
import type { StateView } from '../../state/index.ts';
import { lastResult } from './dependencies.ts';

/** One job of the graph. */
export interface GraphNode {
  id: string;
  periodic: boolean;
  parameterized: boolean;
  stop: boolean;
  /** How the job last finished, if it has. */
  last?: 'complete' | 'failed';
}

/** The graph: jobs that have or are dependencies, and an edge parent -> dependent for each `after`. */
export interface JobGraph {
  nodes: GraphNode[];
  edges: { from: string; to: string }[];
}

/**
 * The cycle `spec` would close among the registered jobs, as a path that starts and ends with the
 * same job (`a -> b -> a`), or undefined.
 */
export function findCycle(view: StateView, spec: Pick<Job, 'id' | 'after'>): string[] | undefined {
  const parentsOf = (id: string): string[] => (id === spec.id ? (spec.after ?? []) : (view.job(id)?.after ?? []));
  // Depth-first from the new job up its parents: reaching it again is a cycle.
  const path: string[] = [spec.id];
  const seen = new Set<string>();
  const visit = (id: string): boolean => {
    for (const p of parentsOf(id)) {
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
export function checkNoCycle(view: StateView, spec: Pick<Job, 'id' | 'after'>): void {
  if (!spec.after || spec.after.length === 0) return;
  const cycle = findCycle(view, spec);
  if (!cycle) return;
  const spelled = cycle.join(' -> ');
  throw new BerthError('invalid_input', `Cannot register job "${spec.id}": its after list makes a cycle ${spelled}; remove one of these dependencies`, [
    { path: 'after', message: `cycle ${spelled}` },
  ]);
}

/** The graph of every job that has parents or dependents (child jobs left out). */
export function jobGraph(view: StateView): JobGraph {
  const jobs = view.jobs().filter((j) => j.parentId === undefined);
  const edges = jobs.flatMap((j) => (j.after ?? []).map((p) => ({ from: p, to: j.id })));
  const ids = new Set(edges.flatMap((e) => [e.from, e.to]));
  const nodes = [...ids].sort().map((id): GraphNode => {
    const job = view.job(id);
    const node: GraphNode = { id, periodic: job?.periodic !== undefined, parameterized: job?.parameterized !== undefined, stop: job?.stop ?? true };
    const last = lastResult(view, id);
    if (last) node.last = last.outcome;
    return node;
  });
  return { nodes, edges };
}

/** The graph in Graphviz DOT: failed jobs red, succeeded green, periodic ones drawn as boxes. */
export function graphDot(graph: JobGraph): string {
  const q = (s: string): string => JSON.stringify(s);
  const lines = ['digraph berth_jobs {', '  rankdir=LR;'];
  for (const n of graph.nodes) {
    const attrs = [`shape=${n.periodic ? 'box' : 'ellipse'}`];
    if (n.last) attrs.push(`color=${n.last === 'complete' ? 'green' : 'red'}`);
    if (n.stop) attrs.push('style=dashed');
    lines.push(`  ${q(n.id)} [${attrs.join(', ')}];`);
  }
  for (const e of graph.edges) lines.push(`  ${q(e.from)} -> ${q(e.to)};`);
  lines.push('}');
  return `${lines.join('\n')}\n`;
}
