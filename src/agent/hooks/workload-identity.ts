/**
 * The workload identity hook: fetches the allocation's token from the servers (the node secret in
 * the pool's headers proves this agent runs it) and gives it to each task as
 * `BERTH_WORKLOAD_TOKEN`, and to its templates for `{{var ...}}`. With it a task reads the variables
 * of its own job (`berth/jobs/<job>/...`) and nothing else, while the allocation runs.
 */
import type { ServerPool } from '../../api/index.ts';
import type { Clock, Logger } from '../../lib/index.ts';
import type { AllocHook, HookedAlloc } from '../allocs/alloc-hook.ts';

/** The env variable a task finds its token in. */
export const WORKLOAD_TOKEN_ENV = 'BERTH_WORKLOAD_TOKEN';

/** Longest wait between tries while the servers cannot answer. */
const MAX_RETRY_MS = 30_000;

/** The hook that gives an allocation's tasks (and templates) its workload token. */
export function workloadIdentityHook(alloc: HookedAlloc, deps: { servers?: ServerPool; logger: Logger; clock: Clock }): AllocHook {
  let token: string | undefined;
  let stopped = false;
  const stop = new AbortController();
  /** Envs of tasks that ran before the token came: filled in when it does (a restart then has it). */
  const waiting: Record<string, string>[] = [];
  let first: Promise<void> | undefined;

  /** One try: true when done (the token, or a refusal no retry will change), false to try again. */
  const attempt = async (): Promise<boolean> => {
    try {
      const res = await deps.servers!.fetch(`/v1/allocations/${encodeURIComponent(alloc.alloc.id)}/identity`);
      const text = await res.text();
      if (res.ok) {
        token = (JSON.parse(text) as { token: string }).token;
        for (const env of waiting.splice(0)) env[WORKLOAD_TOKEN_ENV] = token;
        return true;
      }
      if (res.status >= 500) return false;
      // Refused (an older server without the route, a node secret it does not know): retrying will not help.
      deps.logger.warn({ allocId: alloc.alloc.id, status: res.status, body: text.slice(0, 200) }, 'no workload identity for the allocation: its tasks run without BERTH_WORKLOAD_TOKEN');
      return true;
    } catch (err) {
      deps.logger.debug({ err }, 'cannot fetch the workload identity yet');
      return false;
    }
  };

  // The first try is awaited; while the servers cannot answer (an agent restarting during an
  // outage reattaches to its tasks), tasks go on and the token comes later, with backoff.
  const start = (): Promise<void> =>
    attempt().then((done) => {
      if (done) return;
      deps.logger.warn({ allocId: alloc.alloc.id }, 'cannot fetch the workload identity yet: tasks start without BERTH_WORKLOAD_TOKEN until it comes');
      void (async () => {
        for (let delay = 1000; !stopped; delay = Math.min(delay * 2, MAX_RETRY_MS)) {
          const slept = await deps.clock.sleep(delay, stop.signal).then(
            () => true,
            () => false,
          );
          if (!slept || stopped || (await attempt())) return;
        }
      })();
    });

  return {
    name: 'workload-identity',
    async prerun(t) {
      if (!deps.servers || stopped) return;
      if (token !== undefined) t.request.env[WORKLOAD_TOKEN_ENV] = token;
      else waiting.push(t.request.env);
      first ??= start();
      await first;
    },
    stop() {
      stopped = true;
      stop.abort();
    },
  };
}
