/**
 * What the token may do, so the UI offers only that: each check is asked of the server
 * (`POST /v1/acl/authorize`, which knows the policies' matching rules), never worked out here.
 * Checks asked in the same tick go in one request; each answer is cached per token. While the
 * answer is not in, the action is not offered; if the server cannot answer (an older server),
 * actions are offered and the server's refusal is shown where the user acted.
 */
import { useQuery } from '@tanstack/react-query';
import type { AclCheck } from '../api/index.ts';
import { api, currentToken } from './api.ts';

let pending: { check: AclCheck; resolve: (ok: boolean) => void; reject: (err: unknown) => void }[] = [];

/** Ask the queued checks in one request. */
async function flush(): Promise<void> {
  const batch = pending;
  pending = [];
  try {
    const answers = await api().aclAuthorize(batch.map((b) => b.check));
    batch.forEach((b, i) => b.resolve(answers[i] === true));
  } catch (err) {
    for (const b of batch) b.reject(err);
  }
}

function ask(check: AclCheck): Promise<boolean> {
  return new Promise((resolve, reject) => {
    if (pending.length === 0) setTimeout(() => void flush(), 0);
    pending.push({ check, resolve, reject });
  });
}

/** True once the server said the token may do it (or could not say); false while unknown or refused. */
export function useMay(check: AclCheck | undefined): boolean {
  const q = useQuery({
    queryKey: ['acl', currentToken(), check?.scope, check?.name ?? null, check?.capability],
    queryFn: () => ask(check!),
    enabled: check !== undefined,
    retry: false,
  });
  if (check === undefined) return true;
  if (q.error) return true;
  return q.data === true;
}
