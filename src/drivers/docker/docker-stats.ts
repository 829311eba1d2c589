import type Docker from 'dockerode';
import type { TaskUsage } from '../../model/index.ts';

/** The parts of the Engine API's stats answer berth reads. */
interface EngineStats {
  read?: string;
  cpu_stats?: { cpu_usage?: { total_usage?: number; percpu_usage?: number[] }; system_cpu_usage?: number; online_cpus?: number };
  precpu_stats?: { cpu_usage?: { total_usage?: number }; system_cpu_usage?: number };
  memory_stats?: { usage?: number; limit?: number; stats?: Record<string, number> };
}

/**
 * One sample of `docker stats` for a container. CPU is computed as the Docker CLI does: the
 * container's share of the host's CPU time between the engine's two samples, times the cores.
 * Memory is the usage less the page cache (cgroup v1 `cache`, v2 `inactive_file`), as `docker stats` shows.
 */
export async function containerUsage(container: Docker.Container): Promise<TaskUsage> {
  const s = (await container.stats({ stream: false })) as unknown as EngineStats;
  const cpu = s.cpu_stats ?? {};
  const pre = s.precpu_stats ?? {};
  const cpuDelta = (cpu.cpu_usage?.total_usage ?? 0) - (pre.cpu_usage?.total_usage ?? 0);
  const systemDelta = (cpu.system_cpu_usage ?? 0) - (pre.system_cpu_usage ?? 0);
  const cores = cpu.online_cpus ?? cpu.cpu_usage?.percpu_usage?.length ?? 1;
  const cpuPercent = cpuDelta > 0 && systemDelta > 0 ? (cpuDelta / systemDelta) * cores * 100 : 0;
  const mem = s.memory_stats ?? {};
  const cache = mem.stats?.inactive_file ?? mem.stats?.total_inactive_file ?? mem.stats?.cache ?? 0;
  const usage: TaskUsage = { cpuPercent: round(cpuPercent), memoryBytes: Math.max(0, (mem.usage ?? 0) - cache), time: s.read ? Date.parse(s.read) : Date.now() };
  // The engine reports the host's memory as the limit of an unlimited container: no limit then.
  if (mem.limit && mem.limit < 2 ** 62) usage.memoryLimitBytes = mem.limit;
  return usage;
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
