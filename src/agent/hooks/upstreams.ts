import type { Logger } from '../../lib/index.ts';
import type { UpstreamSpec } from '../../model/index.ts';
import type { AllocHook, HookedAlloc, HookedTask } from '../allocs/alloc-hook.ts';
import { upstreamEnvName, type UpstreamListeners } from '../services/index.ts';

/** What the upstreams hook needs of the agent. */
export interface UpstreamsHookDeps {
  upstreams?: UpstreamListeners;
  /** The docker bridge's gateway: where a container reaches its upstreams. */
  bridgeAddress?: string;
  logger: Logger;
}

/**
 * The hook that gives each task its group's and its own upstreams: `BERTH_UPSTREAM_ADDR_<service>`
 * in its environment (before it starts), and a listener there (before it runs) on loopback for a
 * process or a container on the host's network, on the bridge gateway for any other container.
 */
export function upstreamsHook(alloc: HookedAlloc, deps: UpstreamsHookDeps): AllocHook {
  const releases: (() => Promise<void>)[] = [];
  let stopped = false;
  return {
    name: 'upstreams',
    prestart(t) {
      for (const { spec, host } of upstreamsOf(alloc, t, deps)) t.request.env[upstreamEnvName(spec.service)] = `${host}:${spec.localBindPort}`;
    },
    async prerun(t) {
      if (!deps.upstreams || stopped) return;
      for (const { spec, host } of upstreamsOf(alloc, t, deps)) {
        try {
          releases.push(await deps.upstreams.acquire(spec, host));
        } catch (err) {
          // The task still starts; its connections to the address are refused, and the log says why.
          deps.logger.error({ task: t.task.name, err: (err as Error).message }, 'upstream not served');
        }
      }
    },
    stop() {
      stopped = true;
      for (const release of releases.splice(0)) void release();
    },
  };
}

function upstreamsOf(alloc: HookedAlloc, t: HookedTask, deps: UpstreamsHookDeps): { spec: UpstreamSpec; host: string }[] {
  const group = alloc.job.groups.find((g) => g.name === alloc.alloc.group);
  const specs = [...(group?.upstreams ?? []), ...(t.task.upstreams ?? [])];
  if (specs.length === 0) return [];
  const inContainer = t.driverName === 'docker' && t.request.config.networkMode !== 'host';
  const host = inContainer ? deps.bridgeAddress : '127.0.0.1';
  if (!host) {
    deps.logger.error({ task: t.task.name }, 'upstreams of a container need the docker bridge address, which the driver did not report: the task gets none');
    return [];
  }
  return specs.map((spec) => ({ spec, host }));
}
