import type { TaskDriver, TaskHandle } from '../../drivers/index.ts';
import type { DriverName } from '../../model/index.ts';
import type { AllocHook, HookedAlloc } from '../allocs/alloc-hook.ts';
import type { LogForwarder } from '../logs/log-forwarder.ts';

/** Longest line forwarded; the rest of a longer one is cut (a runaway line must not fill the buffer's memory). */
const MAX_LINE = 16 * 1024;

/**
 * The hook that forwards an allocation's task output (`--log-forward`): each task instance's
 * stdout and stderr are followed from its first line (or, found again after an agent restart,
 * from then on: what it printed before went out before), split into lines and queued on the
 * forwarder.
 */
export function logForwardHook(alloc: HookedAlloc, deps: { forwarder: LogForwarder; drivers: ReadonlyMap<DriverName, TaskDriver> }): AllocHook {
  const following = new Map<string, { handleId: string; abort: AbortController }>();
  let stopped = false;
  return {
    name: 'log forward',
    taskStarted(taskName, handle, fresh) {
      if (stopped || following.get(taskName)?.handleId === handle.id) return;
      following.get(taskName)?.abort.abort();
      const abort = new AbortController();
      following.set(taskName, { handleId: handle.id, abort });
      void follow(alloc, taskName, handle, { ...deps, signal: abort.signal, fresh });
    },
    stop() {
      stopped = true;
      for (const f of following.values()) f.abort.abort();
      following.clear();
    },
  };
}

async function follow(alloc: HookedAlloc, task: string, handle: TaskHandle, o: { forwarder: LogForwarder; drivers: ReadonlyMap<DriverName, TaskDriver>; signal: AbortSignal; fresh: boolean }): Promise<void> {
  const driver = o.drivers.get(handle.driver);
  if (!driver) return;
  const a = alloc.alloc;
  const partial = { stdout: '', stderr: '' };
  const emit = (stream: 'stdout' | 'stderr', line: string): void =>
    o.forwarder.push({ time: Date.now(), job: a.jobId, group: a.group, alloc: a.id, task, stream, line: line.length > MAX_LINE ? line.slice(0, MAX_LINE) : line });
  try {
    // A run that just started is read from its first line; one found again after an agent
    // restart from now on (what it printed before went out before the restart).
    const from = o.fresh ? { instance: true } : { tail: 0 };
    for await (const chunk of driver.logs(handle, { follow: true, signal: o.signal, ...from })) {
      const lines = (partial[chunk.stream] + chunk.data.toString('utf8')).split('\n');
      partial[chunk.stream] = lines.pop()!.slice(-MAX_LINE);
      for (const line of lines) emit(chunk.stream, line);
    }
  } catch {
    // The task went (or the stream was stopped): nothing more to read from this instance.
  }
  for (const stream of ['stdout', 'stderr'] as const) if (partial[stream]) emit(stream, partial[stream]);
}
