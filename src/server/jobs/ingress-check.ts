import { BerthError, INGRESS_NODE_META, type ErrorDetail, type IngressClaimRow, type Job, type Node } from '../../model/index.ts';
import { ingressClaims, ingressConflicts, PRIVILEGED_BELOW } from '../../jobspec/index.ts';
import type { StateSnapshot, StateView, Write } from '../../state/index.ts';

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

/** The row id of a claim key (`http <host> <path>`, `tcp <port>`): URI-encoded, so it holds no "/" or space. */
export function ingressClaimId(key: string): string {
  return encodeURIComponent(key);
}

/**
 * The writes that record a job's ingress claims in the `ingressClaims` table, in its registration
 * txn, each guarded by the revision its row was read at: of two registrations that claim one
 * route at once, one txn fails its compare, is rebuilt on the newer view and refused by
 * `checkIngress`. Claims the job no longer makes are released; a claim held only by stopped or
 * purged jobs is taken over. Throws `invalid_input` when a live job of another service holds one.
 */
export function ingressClaimWrites(view: StateView, spec: Pick<Job, 'id' | 'groups'>): Write[] {
  const writes: Write[] = [];
  const wanted = new Map(ingressClaims(spec).map((c) => [ingressClaimId(c.key), c]));
  for (const [id, claim] of wanted) {
    const row = view.ingressClaim(id);
    const holders = (row?.jobs ?? []).filter((j) => j !== spec.id && isLive(view, j));
    if (row && holders.length > 0 && row.service !== claim.service) {
      const message = `${claim.label} is already routed to service "${row.service}" of job "${holders[0]}"; give this route another host, path or port, or stop job "${holders[0]}" first`;
      throw new BerthError('invalid_input', `Cannot register job "${spec.id}": ${claim.path}: ${message}`, [{ path: claim.path, message }]);
    }
    const jobs = [...holders, spec.id].sort();
    if (row && row.service === claim.service && sameList(row.jobs, jobs)) continue;
    const value: IngressClaimRow = { key: claim.key, service: claim.service, jobs };
    writes.push({ table: 'ingressClaims', id, value, ifModRevision: view.modRevision('ingressClaims', id) });
  }
  for (const row of view.ingressClaims()) {
    const id = ingressClaimId(row.key);
    if (wanted.has(id) || !row.jobs.includes(spec.id)) continue;
    writes.push(releaseWrite(view, row, spec.id));
  }
  return writes;
}

/** The writes that drop a stopped or purged job from the claims it holds. */
export function releaseIngressClaims(view: StateView, jobId: string): Write[] {
  return view.ingressClaims().filter((row) => row.jobs.includes(jobId)).map((row) => releaseWrite(view, row, jobId));
}

function releaseWrite(view: StateView, row: IngressClaimRow, jobId: string): Write {
  const id = ingressClaimId(row.key);
  const jobs = row.jobs.filter((j) => j !== jobId);
  return { table: 'ingressClaims', id, value: jobs.length === 0 ? null : { ...row, jobs }, ifModRevision: view.modRevision('ingressClaims', id) };
}

function isLive(view: StateView, jobId: string): boolean {
  const job = view.job(jobId);
  return job !== undefined && !job.stop;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
