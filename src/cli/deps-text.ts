/** Dependencies between jobs as people read them: the graph as a text tree, a job's dependencies in `job status`. */
import type { GraphEdge, GraphNode, JobGraph, JobSummary } from '../api/index.ts';

/** A job's state in one word or a few: `held (waits for db to be healthy)`, `failed`, `2 running`. */
export function nodeState(node: GraphNode): string {
  if (node.missing) return 'missing (not registered)';
  if (node.stop) return 'stopped';
  if (node.held?.length) return `held (waits for ${node.held.map((w) => `${w.job} to be ${w.condition}`).join(', ')})`;
  if (node.running > 0) return `${node.running} running`;
  if (node.last) return node.last;
  return 'pending';
}

function edgeLabel(edge: GraphEdge): string {
  if (edge.condition === undefined) return ' (after success)';
  return ` (${edge.condition}${edge.restart ? ', restart' : ''})`;
}

/** The jobs related to `root` (its ancestors and descendants, and itself), or every job. */
function related(graph: JobGraph, root: string | undefined): Set<string> {
  if (root === undefined) return new Set(graph.nodes.map((n) => n.id));
  const reach = (step: (e: GraphEdge) => [string, string]): Set<string> => {
    const seen = new Set([root]);
    const queue = [root];
    while (queue.length > 0) {
      const id = queue.shift()!;
      for (const e of graph.edges) {
        const [here, there] = step(e);
        if (here === id && !seen.has(there)) {
          seen.add(there);
          queue.push(there);
        }
      }
    }
    return seen;
  };
  return new Set([...reach((e) => [e.to, e.from]), ...reach((e) => [e.from, e.to])]);
}

/**
 * The graph as a tree: each job that waits for nothing, and under it the jobs that wait for it,
 * with the condition on the line. A job with several dependencies shows under each; its
 * dependents are drawn the first time only.
 */
export function depsTree(graph: JobGraph, root?: string): string {
  const keep = related(graph, root);
  const nodes = new Map(graph.nodes.filter((n) => keep.has(n.id)).map((n) => [n.id, n]));
  const edges = graph.edges.filter((e) => nodes.has(e.from) && nodes.has(e.to));
  if (nodes.size === 0) return root === undefined ? 'No job depends on another (see `after:` in the job spec).' : `Job "${root}" has no dependencies and nothing depends on it.`;
  const drawn = new Set<string>();
  const lines: string[] = [];
  const draw = (id: string, prefix: string, label: string, connector: string): void => {
    const node = nodes.get(id)!;
    const again = drawn.has(id);
    lines.push(`${prefix}${connector}${id}${label}  [${node.type ?? 'job'}: ${nodeState(node)}]${again ? ' (dependents shown above)' : ''}`);
    if (again) return;
    drawn.add(id);
    const children = edges.filter((e) => e.from === id).sort((a, b) => a.to.localeCompare(b.to));
    const inner = prefix + (connector === '' ? '' : connector === '└─ ' ? '   ' : '│  ');
    children.forEach((e, i) => draw(e.to, inner, edgeLabel(e), i === children.length - 1 ? '└─ ' : '├─ '));
  };
  const roots = [...nodes.keys()].filter((id) => !edges.some((e) => e.to === id)).sort();
  for (const id of roots) draw(id, '', '', '');
  return lines.join('\n');
}

/** `job status` lines of a job with dependencies: each one and whether it is met, then what holds it. */
export function dependencyLines(summary: JobSummary): string[] {
  if (!summary.dependencies?.length) return [];
  const lines = ['', 'Dependencies'];
  for (const d of summary.dependencies) {
    lines.push(`  ${d.job} ${d.condition}${d.restart ? ' (restart)' : ''}: ${d.met ? 'met' : `not met: ${d.reason ?? ''}`}`);
  }
  if (summary.held?.length) {
    lines.push('', `Held: not placed until its dependencies are met`);
    for (const w of summary.held) lines.push(`  waiting for job "${w.job}" to be ${w.condition}: ${w.reason}`);
  }
  return lines;
}
