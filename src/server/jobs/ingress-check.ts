import { BerthError, INGRESS_NODE_META, type ErrorDetail, type Job, type Node } from '../../model/index.ts';
import { ingressClaims, ingressConflicts, PRIVILEGED_BELOW } from '../../jobspec/index.ts';
import type { StateSnapshot } from '../../state/index.ts';

/** Node meta an agent started with `--ingress` registers with (`agent/ingress`). */
export const INGRESS_META = INGRESS_NODE_META;

/** The nodes that run an ingress (and are not down). */
export function ingressNodes(nodes: readonly Node[]): Node[] {
  return nodes.filter((n) => n.meta?.[INGRESS_META.addresses] !== undefined && n.status !== 'down');
}

/**
 * Refuse a job whose ingress routes claim what another job's service claims, or a TCP port
 * below 1024 that an ingress node has no right to bind; every problem with its path.
 */
export function checkIngress(view: StateSnapshot, spec: Pick<Job, 'id' | 'groups'>): void {
  const claims = ingressClaims(spec);
  if (claims.length === 0) return;
  const others = view.jobs().filter((j) => !j.stop && j.id !== spec.id);
  const problems: ErrorDetail[] = ingressConflicts(spec, others);
  const nodes = ingressNodes(view.nodes());
  for (const claim of claims) {
    if (claim.port === undefined || claim.port >= PRIVILEGED_BELOW) continue;
    const unable = nodes.filter((n) => Number(n.meta?.[INGRESS_META.portStart] ?? PRIVILEGED_BELOW) > claim.port!);
    if (unable.length === 0) continue;
    problems.push({
      path: `${claim.path}.port`,
      message: `port ${claim.port} is privileged and the agent of ingress node(s) ${unable.map((n) => `"${n.name}"`).join(', ')} has no right to bind it; use a port of ${PRIVILEGED_BELOW} or above, or run those agents as root (or with CAP_NET_BIND_SERVICE)`,
    });
  }
  if (problems.length === 0) return;
  throw new BerthError('invalid_input', `Cannot register job "${spec.id}": ${problems[0].path}: ${problems[0].message}`, problems);
}
