/**
 * What happens to a deployment after its registration: an operator promotes, fails, pauses or
 * resumes it, or sets the health of its allocations (`health_check: manual`). The watcher
 * (deployment-watcher.ts) moves it on by itself.
 */
import { BerthError, type Deployment } from '../../model/index.ts';
import type { StateStore, StateView, Write } from '../../state/index.ts';
import type { Clock } from '../../lib/index.ts';
import { newEvalWrite } from '../evals/index.ts';
import { isActive } from '../jobs/index.ts';

/** An operator's action on a deployment. */
export type DeploymentAction = 'promote' | 'fail' | 'pause' | 'resume';

/**
 * Apply `promote`, `fail`, `pause` or `resume` to a deployment, in one txn with an evaluation of
 * the job so that the rollout moves on (or stops) at once. Failing leaves auto-revert to the watcher:
 * it sees a failed deployment only through its own pass, so `fail` marks it for the watcher instead.
 */
export async function actOnDeployment(
  deps: { view: StateView; store: StateStore; clock: Clock },
  request: { id: string; action: DeploymentAction; groups?: string[] },
): Promise<{ deployment: Deployment; index: number; evalId?: string }> {
  const { view, store, clock } = deps;
  const { id, action, groups } = request;
  for (let attempt = 0; attempt < 5; attempt++) {
    const d = findDeployment(view, id);
    const now = clock.now();
    const next = transition(d, action, now, groups);
    const writes: Write[] = [{ table: 'deployments', id: d.id, value: next, ifModRevision: view.modRevision('deployments', d.id) }];
    const job = view.job(d.jobId);
    let evalId: string | undefined;
    if (job !== undefined) {
      const e = newEvalWrite(job, 'deployment-watcher', now);
      writes.push(e.write);
      evalId = e.evaluation.id;
    }
    const result = await store.commit(writes);
    if (result.ok) return { deployment: next, index: result.index, evalId };
  }
  throw new BerthError('conflict', `Cannot ${action} deployment "${id}": it kept changing concurrently; try again`);
}

/** A deployment by id or unique id prefix. */
export function findDeployment(view: StateView, id: string): Deployment {
  const exact = view.deployment(id);
  if (exact) return exact;
  const matches = id.length >= 4 ? view.deployments().filter((d) => d.id.startsWith(id)) : [];
  if (matches.length === 1) return matches[0];
  if (matches.length > 1) throw new BerthError('invalid_input', `Cannot find deployment "${id}": the prefix matches ${matches.length} deployments; give more characters`);
  throw new BerthError('not_found', `Cannot find deployment "${id}": no such deployment (see \`berth deployment list\`)`);
}

function transition(d: Deployment, action: DeploymentAction, now: number, groups?: string[]): Deployment {
  const refuse = (why: string): never => {
    throw new BerthError('invalid_input', `Cannot ${action} deployment ${d.id.slice(0, 8)}: ${why}`);
  };
  if (!isActive(d)) refuse(`it is ${d.status} already`);
  switch (action) {
    case 'pause':
      if (d.status === 'paused') refuse('it is paused already');
      return { ...d, status: 'paused', statusDescription: 'Deployment is paused', modifyTime: now };
    case 'resume': {
      if (d.status !== 'paused') refuse('it is not paused');
      // The time spent paused does not count against the progress deadline.
      const shift = now - d.modifyTime;
      const moved = Object.fromEntries(Object.entries(d.groups).map(([n, g]) => [n, { ...g, progressDeadline: g.progressDeadline + shift }]));
      return { ...d, groups: moved, status: 'running', statusDescription: 'Deployment is running', modifyTime: now };
    }
    case 'fail':
      return { ...d, status: 'failed', statusDescription: 'Deployment marked as failed by an operator', modifyTime: now };
    case 'promote': {
      const names = groups && groups.length > 0 ? groups : Object.keys(d.groups);
      const waiting = names.filter((n) => d.groups[n] !== undefined && d.groups[n].desiredCanaries > 0);
      if (waiting.length === 0) refuse('no group of it has canaries to promote');
      const promoted = Object.fromEntries(Object.entries(d.groups).map(([n, g]) => [n, names.includes(n) ? { ...g, promoted: true } : g]));
      return { ...d, groups: promoted, statusDescription: 'Deployment is running (promoted)', modifyTime: now };
    }
  }
}

/** `health_check: manual`: an operator sets the health of a deployment's allocations. */
export async function setAllocHealth(
  deps: { view: StateView; store: StateStore; clock: Clock },
  request: { id: string; healthy: string[]; unhealthy: string[] },
): Promise<{ index: number }> {
  const { view, store, clock } = deps;
  const { id, healthy, unhealthy } = request;
  const d = findDeployment(view, id);
  if (!isActive(d)) throw new BerthError('invalid_input', `Cannot set allocation health in deployment ${d.id.slice(0, 8)}: it is ${d.status}`);
  const now = clock.now();
  const writes: Write[] = [];
  for (const [ids, ok] of [[healthy, true], [unhealthy, false]] as const) {
    for (const allocId of ids) {
      const a = view.alloc(allocId);
      if (a === undefined || a.deploymentId !== d.id) throw new BerthError('invalid_input', `Cannot set the health of allocation "${allocId}": it is not part of deployment ${d.id.slice(0, 8)}`);
      const health = ok ? { healthy: true, time: now } : { healthy: false, time: now, reason: 'marked unhealthy by an operator' };
      writes.push({ table: 'allocs', id: a.id, value: { ...a, deploymentHealth: health, modifyTime: now }, ifModRevision: view.modRevision('allocs', a.id) });
    }
  }
  const job = view.job(d.jobId);
  if (job) writes.push(newEvalWrite(job, 'deployment-watcher', now).write);
  const result = await store.commit(writes);
  if (!result.ok) throw new BerthError('conflict', `Cannot set allocation health in deployment ${d.id.slice(0, 8)}: an allocation changed meanwhile; try again`);
  return { index: result.index };
}
