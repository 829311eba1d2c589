import os from 'node:os';
import type { AllocStats, DriverName, NodeStats } from '../../model/index.ts';
import type { TaskDriver } from '../../drivers/index.ts';
import type { AllocRunner } from '../allocs/alloc-runner.ts';

/** The usage of each running task of an allocation; tasks that are not running (or whose driver measures nothing) are left out. */
export async function allocUsage(runner: AllocRunner, drivers: Map<DriverName, TaskDriver>): Promise<AllocStats> {
  const out: AllocStats = { allocId: runner.alloc.id, tasks: {}, cpuPercent: 0, memoryBytes: 0 };
  const states = runner.taskStates();
  await Promise.all(
    runner.taskNames().map(async (name) => {
      const handle = runner.handle(name);
      const driver = handle && drivers.get(handle.driver);
      if (!handle || !driver?.stats || states[name]?.state !== 'running') return;
      try {
        out.tasks[name] = await driver.stats(handle);
      } catch {
        // It stopped between the state read and the sample: it has no usage.
      }
    }),
  );
  for (const u of Object.values(out.tasks)) {
    out.cpuPercent += u.cpuPercent;
    out.memoryBytes += u.memoryBytes;
  }
  out.cpuPercent = Math.round(out.cpuPercent * 100) / 100;
  return out;
}

/** The host's totals and the sum of every allocation's usage. */
export async function nodeUsage(nodeId: string, runners: Iterable<AllocRunner>, drivers: Map<DriverName, TaskDriver>): Promise<NodeStats> {
  const allocs = await Promise.all([...runners].map((r) => allocUsage(r, drivers)));
  return {
    nodeId,
    cpuCores: os.cpus().length,
    memoryTotalBytes: os.totalmem(),
    memoryAvailableBytes: os.freemem(),
    load1: Math.round(os.loadavg()[0] * 100) / 100,
    tasks: allocs.reduce((n, a) => n + Object.keys(a.tasks).length, 0),
    cpuPercent: Math.round(allocs.reduce((n, a) => n + a.cpuPercent, 0) * 100) / 100,
    memoryBytes: allocs.reduce((n, a) => n + a.memoryBytes, 0),
    allocs,
  };
}
