import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** Where the memory controller is, and in which cgroup version; none when the host does not allow it. */
export interface CgroupRoot {
  version: 1 | 2;
  /** The directory berth's task cgroups go under. */
  dir: string;
}

/**
 * The memory cgroup hierarchy berth can use on this host: cgroup v2 when its root offers the
 * memory controller, else v1's memory hierarchy; undefined when neither is there or writable
 * (not root, a read-only /sys/fs/cgroup in a container).
 */
export function detectMemoryCgroup(root = '/sys/fs/cgroup'): CgroupRoot | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const controllers = readFileSync(path.join(root, 'cgroup.controllers'), 'utf8');
    if (controllers.split(/\s+/).includes('memory')) return { version: 2, dir: path.join(root, 'berth') };
  } catch {
    // Not a v2 root.
  }
  if (existsSync(path.join(root, 'memory', 'memory.limit_in_bytes'))) return { version: 1, dir: path.join(root, 'memory', 'berth') };
  return undefined;
}

/**
 * Makes the cgroup `name` with a hard memory limit and returns its `cgroup.procs` path, which the
 * task's wrapper writes its own pid to before it runs the command (so the command and all it forks
 * are inside from their first instruction). Undefined, with the reason logged by the caller, when
 * it cannot be made.
 */
export async function makeMemoryCgroup(root: CgroupRoot, name: string, limitBytes: number): Promise<string> {
  const dir = path.join(root.dir, name);
  if (root.version === 2) {
    await mkdir(root.dir, { recursive: true });
    // Children of berth/ get a memory controller only when berth/ hands it down.
    await writeFile(path.join(path.dirname(root.dir), 'cgroup.subtree_control'), '+memory').catch(() => undefined);
    await writeFile(path.join(root.dir, 'cgroup.subtree_control'), '+memory');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'memory.max'), String(limitBytes));
    await writeFile(path.join(dir, 'memory.swap.max'), '0').catch(() => undefined);
  } else {
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'memory.limit_in_bytes'), String(limitBytes));
  }
  return path.join(dir, 'cgroup.procs');
}

/** Whether the kernel's OOM killer killed a process of this cgroup. */
export async function oomKilled(procsFile: string): Promise<boolean> {
  const dir = path.dirname(procsFile);
  for (const [file, key] of [
    ['memory.events', 'oom_kill'],
    ['memory.oom_control', 'oom_kill'],
  ] as const) {
    try {
      const text = await readFile(path.join(dir, file), 'utf8');
      const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(text);
      if (m) return Number(m[1]) > 0;
    } catch {
      // The other version's file.
    }
  }
  return false;
}

/**
 * Removes the cgroup once its processes are gone. A process just killed leaves it only once the
 * kernel has reaped it, so the removal is retried for a second; a cgroup still in use after that stays.
 */
export async function removeCgroup(procsFile: string): Promise<void> {
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      await rmdir(path.dirname(procsFile));
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EBUSY') return;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
