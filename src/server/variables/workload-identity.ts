/**
 * Workload identities: each allocation's token, `wi:<allocId>:<mac>` (an HMAC-SHA256 of the
 * allocation id under the keyring's workload key), which its agent fetches and gives its tasks
 * (`BERTH_WORKLOAD_TOKEN`) and templates. It reads and lists the variables of the allocation's own
 * job (`berth/jobs/<jobId>` and below) and nothing else, and only while the allocation is not
 * terminal: no record of tokens is kept, the allocation is the record.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { BerthError, isTerminal, type AclScope } from '../../model/index.ts';
import type { Authorizer } from '../../acl/index.ts';
import type { StateView } from '../../state/index.ts';
import type { Identity } from '../acl/index.ts';
import type { Keyring } from './keyring.ts';

/** What every workload token starts with. */
export const WORKLOAD_TOKEN_PREFIX = 'wi:';

/** The variables path under which a job's tasks read their own variables (Nomad's `nomad/jobs/<job>`). */
export function jobVariablesPath(jobId: string): string {
  return `berth/jobs/${jobId}`;
}

/** Issues and checks the workload tokens of allocations. */
export class WorkloadIdentities {
  constructor(private readonly d: { view: StateView; keyring: Keyring }) {}

  /** The token of an allocation. */
  tokenFor(allocId: string): string {
    return `${WORKLOAD_TOKEN_PREFIX}${allocId}:${this.#mac(allocId)}`;
  }

  /**
   * The identity of a workload token; undefined for a secret that is not one. Throws
   * `unauthorized` for a forged token or one whose allocation is gone or terminal.
   */
  resolve(secret: string): Identity | undefined {
    if (!secret.startsWith(WORKLOAD_TOKEN_PREFIX)) return undefined;
    const rest = secret.slice(WORKLOAD_TOKEN_PREFIX.length);
    const colon = rest.lastIndexOf(':');
    const allocId = colon > 0 ? rest.slice(0, colon) : '';
    const mac = Buffer.from(colon > 0 ? rest.slice(colon + 1) : '', 'utf8');
    const expected = Buffer.from(this.#mac(allocId), 'utf8');
    if (mac.length !== expected.length || !timingSafeEqual(mac, expected)) {
      throw new BerthError('unauthorized', 'Workload token not valid: it was not issued by these servers (use the BERTH_WORKLOAD_TOKEN the task was given)');
    }
    const alloc = this.d.view.alloc(allocId);
    if (!alloc || isTerminal(alloc)) {
      throw new BerthError('unauthorized', `Workload token of allocation ${allocId} no longer valid: the allocation has stopped`);
    }
    return { accessorId: `${WORKLOAD_TOKEN_PREFIX}${allocId}`, authorizer: jobVariablesAuthorizer(jobVariablesPath(alloc.jobId)) };
  }

  #mac(allocId: string): string {
    return createHmac('sha256', this.d.keyring.workloadSecret()).update(`berth-workload:${allocId}`).digest('base64url');
  }
}

/** Read and list on `base` and the paths below it, in the variables scope only. */
function jobVariablesAuthorizer(base: string): Authorizer {
  const inside = (path: string): boolean => path === base || path.startsWith(`${base}/`);
  const readish = (scope: AclScope, cap: string): boolean => scope === 'variables' && (cap === 'read' || cap === 'list');
  return {
    management: false,
    allows: (scope, name, cap) => readish(scope, cap) && inside(name),
    allowsAny: (scope, cap) => readish(scope, cap),
    allowsUnder: (scope, prefix, cap) => readish(scope, cap) && inside(prefix),
  };
}
