/** Cycles through `after` (either form), refused at submit. The graph itself is in server/dependencies/. */
import { BerthError, type Job } from '../../model/index.ts';
import type { StateView } from '../../state/index.ts';

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
