import os from 'node:os';
import type { DriverInfo, DriverName } from '../../model/index.ts';
import type { TaskDriver } from '../../drivers/index.ts';

/** What the agent learns about its host before registering. */
export interface Fingerprint {
  attributes: Record<string, string>;
  drivers: Partial<Record<DriverName, DriverInfo>>;
  resources: { cpu: number; memoryMiB: number };
}

/** Read the host's facts and ask each driver whether it works here. */
export async function fingerprint(drivers: TaskDriver[]): Promise<Fingerprint> {
  const cores = os.availableParallelism();
  const memoryMiB = Math.floor(os.totalmem() / (1024 * 1024));
  const attributes: Record<string, string> = {
    'os.name': os.platform(),
    'os.version': os.release(),
    'cpu.arch': os.arch(),
    'cpu.cores': String(cores),
    'memory.totalMiB': String(memoryMiB),
    hostname: os.hostname(),
  };
  const infos: Partial<Record<DriverName, DriverInfo>> = {};
  await Promise.all(
    drivers.map(async (d) => {
      const name = d.name;
      const info: DriverInfo = await d.fingerprint().catch((err: unknown) => ({ detected: false, healthy: false, detail: (err as Error).message }));
      infos[name] = info;
      if (info.detected && info.version) attributes[`driver.${name}.version`] = info.version;
    }),
  );
  return { attributes, drivers: infos, resources: { cpu: cores, memoryMiB } };
}
