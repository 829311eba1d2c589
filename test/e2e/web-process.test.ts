import { readFileSync } from 'node:fs';
import { webScenario } from '../harness/web-scenario.ts';
import type { Allocation } from '../../src/model/index.ts';

/** The pid the process driver recorded for an allocation's task, read through the API. */
async function pidOf(alloc: Allocation): Promise<number> {
  // The handle is agent-local; the task's own process is the one listening on its port.
  const port = alloc.ports[0].value;
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[1]?.endsWith(`:${hex}`) && cols[3] === '0A') inodes.add(cols[9]);
    }
  }
  const { readdirSync, readlinkSync } = await import('node:fs');
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let fds: string[] = [];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const m = /socket:\[(\d+)\]/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m && inodes.has(m[1])) return Number(pid);
      } catch {
        // The fd closed meanwhile.
      }
    }
  }
  throw new Error(`no process listens on port ${port} for allocation ${alloc.id}`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const pids = new Map<string, number>();

webScenario(
  {
    driver: 'process',
    async kill(alloc) {
      process.kill(await pidOf(alloc), 'SIGKILL');
    },
    async leftovers(allocs) {
      return allocs.filter((a) => pids.has(a.id) && alive(pids.get(a.id)!)).map((a) => `pid ${pids.get(a.id)} of ${a.name}`);
    },
    async taskId(alloc) {
      const pid = await pidOf(alloc);
      pids.set(alloc.id, pid);
      return String(pid);
    },
  },
  'web-process.yaml',
);

