import type { TaskConfig } from '../../model/index.ts';
import type { AllocHook } from '../allocs/alloc-hook.ts';

/**
 * The hook that gives docker tasks berth's DNS servers (on the bridge), so that containers
 * resolve services by name; nothing without servers to give.
 */
export function dnsHook(dnsServers: string[] | undefined): AllocHook {
  return {
    name: 'dns',
    prestart(t) {
      t.request = { ...t.request, config: withDns(t.request.config, t.driverName, dnsServers) };
    },
  };
}

/** A docker task's config with berth's DNS servers, unless the task names its own or uses the host's network. */
export function withDns(config: TaskConfig, driverName: string, dnsServers: string[] | undefined): TaskConfig {
  if (!dnsServers?.length || driverName !== 'docker' || config.dnsServers?.length || config.networkMode === 'host') return config;
  return { ...config, dnsServers: [...dnsServers] };
}
