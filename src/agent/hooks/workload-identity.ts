/**
 * The workload identity hook: fetches the allocation's token from the servers (the node secret in
 * the pool's headers proves this agent runs it) and gives it to each task as
 * `BERTH_WORKLOAD_TOKEN`, and to its templates for `{{var ...}}`. With it a task reads the variables
 * of its own job (`berth/jobs/<job>/...`) and nothing else, while the allocation runs.
 */
import type { ServerPool } from '../../api/index.ts';
import type { Logger } from '../../lib/index.ts';
import type { AllocHook, HookedAlloc } from '../allocs/alloc-hook.ts';

/** The env variable a task finds its token in. */
export const WORKLOAD_TOKEN_ENV = 'BERTH_WORKLOAD_TOKEN';

/** Tries before a task starts without a token (the servers unreachable that long). */
const TRIES = 5;
const RETRY_MS = 1000;

export function workloadIdentityHook(alloc: HookedAlloc, deps: { servers?: ServerPool; logger: Logger }): AllocHook {
  let token: Promise<string | undefined> | undefined;
  let stopped = false;
  const fetchToken = async (): Promise<string | undefined> => {
    const servers = deps.servers!;
    for (let i = 0; i < TRIES && !stopped; i++) {
      try {
        const res = await servers.fetch(`/v1/allocations/${encodeURIComponent(alloc.alloc.id)}/identity`);
        const text = await res.text();
        if (res.ok) return (JSON.parse(text) as { token: string }).token;
        // Refused (an old server without the route, or a node secret it does not know): no use retrying.
        if (res.status < 500) {
          deps.logger.warn({ allocId: alloc.alloc.id, status: res.status, body: text.slice(0, 200) }, 'no workload identity for the allocation: its tasks start without BERTH_WORKLOAD_TOKEN');
          return undefined;
        }
      } catch (err) {
        deps.logger.debug({ err }, 'cannot fetch the workload identity yet');
      }
      await new Promise((r) => setTimeout(r, RETRY_MS));
    }
    deps.logger.warn({ allocId: alloc.alloc.id }, 'cannot fetch the workload identity: its tasks start without BERTH_WORKLOAD_TOKEN');
    return undefined;
  };
  return {
    name: 'workload-identity',
    async prerun(t) {
      if (!deps.servers || stopped) return;
      // One token per allocation: fetched once, for its first task; a failed fetch is tried again for the next.
      token ??= fetchToken();
      const value = await token;
      if (value === undefined) token = undefined;
      else t.request.env[WORKLOAD_TOKEN_ENV] = value;
    },
    stop() {
      stopped = true;
    },
  };
}
