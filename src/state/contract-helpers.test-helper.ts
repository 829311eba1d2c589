/** Helpers of the StateBackend contract suite. */
import assert from 'node:assert/strict';
import type { Compare, KeySelector, RangeResult, StateBackend, WatchBatch, WatchOptions } from './backend.ts';

/** What the suite needs of a backend under test. */
export interface ContractHarness {
  backend: StateBackend;
  /** Close the backend and remove what it left behind. */
  cleanup(): Promise<void>;
  /** Move the backend's clock forward (lease expiry). Absent: the suite waits in real time. */
  advanceTime?(ms: number): Promise<void>;
}

/** Put each key with a dummy value, one revision each. */
export async function putAll(b: StateBackend, keyList: string[]): Promise<void> {
  for (const key of keyList) await b.put(key, 'v');
}

/** The keys of a range, in order. */
export function keys(r: RangeResult): string[] {
  return r.kvs.map((kv) => kv.key);
}

/** The keys and values of a range, in order. */
export function values(r: RangeResult): [string, string][] {
  return r.kvs.map((kv) => [kv.key, kv.value]);
}

/** Whether a compare holds, seen through which branch a txn runs. */
export async function holds(b: StateBackend, compare: Compare): Promise<boolean> {
  return (await b.txn({ compare: [compare], success: [], failure: [] })).succeeded;
}

/** Wait in real time. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Let `ms` of backend time pass: on its clock when the harness has one, else for real. */
export async function pass(h: ContractHarness, ms: number): Promise<void> {
  if (h.advanceTime) await h.advanceTime(ms);
  else await sleep(ms);
}

/** Starts a watch that records what it gets. */
export async function record(b: StateBackend, selector: KeySelector, options: WatchOptions = {}) {
  const batches: WatchBatch[] = [];
  const errors: Error[] = [];
  const waitFor = async (done: () => boolean, what: string, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (Date.now() > deadline) assert.fail(`Timed out after ${timeoutMs} ms waiting for ${what}; got ${JSON.stringify(batches)}`);
      await sleep(5);
    }
  };
  const watcher = await b.watch(selector, (batch) => batches.push(batch), { ...options, onError: (err) => errors.push(err) });
  return {
    watcher,
    batches,
    errors,
    /** Flattened events as [type, key, value]. */
    events: () => batches.flatMap((x) => x.events.map((e) => [e.type, e.kv.key, e.kv.value])),
    until: (count: number, timeoutMs = 5000) => waitFor(() => batches.length >= count, `${count} batches`, timeoutMs),
    untilError: (timeoutMs = 5000) => waitFor(() => errors.length > 0, 'an error', timeoutMs),
  };
}
