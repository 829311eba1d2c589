/** The reads pages share, each under one query key, live (live.ts). */
import { useQuery, type UseQueryResult } from '@tanstack/react-query';
import type { ConsulHealthEntry, Indexed, JobListItem } from '../api/index.ts';
import type { Allocation, Deployment, Node } from '../model/index.ts';
import { api, discoveryApi } from './api.ts';
import { useLive } from './live.ts';

/** Every job (blocking). */
export function useJobs(): UseQueryResult<Indexed<JobListItem[]>> {
  return useLive(['jobs'], (o) => api().listJobs(o));
}

/** Every node (blocking). */
export function useNodes(): UseQueryResult<Indexed<Node[]>> {
  return useLive(['nodes'], (o) => api().listNodes(o));
}

/** Every allocation (blocking). */
export function useAllocs(): UseQueryResult<Indexed<Allocation[]>> {
  return useLive(['allocs'], (o) => api().listAllocations(o));
}

/** Every deployment (blocking). */
export function useDeployments(): UseQueryResult<Indexed<Deployment[]>> {
  return useLive(['deployments'], (o) => api().watchDeployments(o));
}

/** Service names and tags (blocking). */
export function useServices(): UseQueryResult<Indexed<Record<string, string[]>>> {
  return useLive(['service-names'], (o) => discoveryApi().services(o));
}

/** The instances and checks of every service (refetched on Service events). */
export function useAllHealth(names: string[] | undefined): UseQueryResult<Record<string, ConsulHealthEntry[]>> {
  return useQuery({
    queryKey: ['health', 'all', names],
    enabled: names !== undefined,
    queryFn: async () => Object.fromEntries(await Promise.all((names ?? []).map(async (n) => [n, await discoveryApi().health(n)] as const))),
    placeholderData: (prev) => prev,
  });
}

/** The servers and the leader. */
export function useServers(): UseQueryResult<Awaited<ReturnType<ReturnType<typeof api>['listServers']>>> {
  return useQuery({ queryKey: ['servers'], queryFn: () => api().listServers(), refetchInterval: 5_000 });
}
