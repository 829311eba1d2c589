import type { TaskConfig } from '../../model/index.ts';
import type { AllocHook } from '../allocs/alloc-hook.ts';
import type { ContainerDns } from '../services/index.ts';

/**
 * The hook that gives docker tasks their DNS: the node's own responder on the bridge when the
 * agent serves service addresses (with `service.berth` to search, so a bare `db` resolves),
 * else berth's DNS servers (`--task-dns`); nothing without either.
 */
export function dnsHook(dnsServers: string[] | undefined, nodeDns?: () => ContainerDns | undefined): AllocHook {
  return {
    name: 'dns',
    prestart(t) {
      const own = nodeDns?.();
      t.request = { ...t.request, config: withDns(t.request.config, t.driverName, own ?? (dnsServers?.length ? { servers: dnsServers, search: [] } : undefined)) };
    },
  };
}

/** A docker task's config with the given DNS, unless the task names its own or uses the host's network. */
export function withDns(config: TaskConfig, driverName: string, dns: { servers: string[]; search: string[] } | undefined): TaskConfig {
  if (!dns?.servers.length || driverName !== 'docker' || config.dnsServers?.length || config.networkMode === 'host') return config;
  return { ...config, dnsServers: [...dns.servers], ...(dns.search.length && !config.dnsSearch?.length ? { dnsSearch: [...dns.search] } : {}) };
}
