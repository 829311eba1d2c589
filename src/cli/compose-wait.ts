/**
 * Waiting for a Compose service to reach a `depends_on` condition: started (an allocation of the
 * registered version runs), healthy (as many instances pass their checks as the service runs
 * copies) or completed successfully (its one-shot allocation finished with exit 0). A failed
 * allocation of that version fails the wait, naming the service and what its task said last.
 *
 * This is the client side of `depends_on` until service jobs can wait for other jobs themselves
 * (`after:` with conditions, being built on branch deps); the CLI polls the HTTP API.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { BerthClient } from '../api/index.ts';
import type { Dependency } from '../compose/index.ts';
import type { Allocation } from '../model/index.ts';
import { call } from './commands/consul-http.ts';
import { CliError } from './errors.ts';

export type Condition = Dependency['condition'];

/** A registered service job: which version counts, how many copies it runs, what to name in messages. */
export interface Registered {
  service: string;
  jobId: string;
  version: number;
  count: number;
  /** The berth service (catalog name) whose checks say it is healthy. */
  catalogName: string;
  project: string;
}

const POLL_MS = 300;

/** What a task said last, for a failure message. */
function lastWords(alloc: Allocation): string {
  const events = Object.entries(alloc.taskStates).flatMap(([task, s]) => s.events.map((e) => ({ task, ...e, exit: s.exitCode })));
  const last = events.sort((a, b) => a.time - b.time).pop();
  return last ? `${last.message}${last.exit !== undefined ? ` (exit code ${last.exit})` : ''}` : (alloc.clientDescription ?? alloc.clientStatus);
}

/** How many instances of the service pass every check. */
async function passing(r: Registered): Promise<number> {
  const res = await call('GET', `/v1/health/service/${encodeURIComponent(r.catalogName)}`);
  if (res.status !== 200) return 0;
  const entries = JSON.parse(res.text) as { Service: { Meta?: Record<string, string> }; Checks: { Status: string; ServiceID?: string }[] }[];
  return entries.filter((e) => e.Service.Meta?.compose_project === r.project && e.Checks.length > 0 && e.Checks.every((c) => c.Status === 'passing')).length;
}

/** Whether the condition holds now; throws when it never will (a failed allocation). */
async function holds(client: BerthClient, r: Registered, condition: Condition): Promise<boolean> {
  const { value: allocs } = await client.jobAllocations(r.jobId);
  const mine = allocs.filter((a) => a.jobVersion === r.version);
  const failed = mine.find((a) => a.clientStatus === 'failed');
  if (failed) throw new CliError(`Service "${r.service}" failed: ${lastWords(failed)}; see \`berth alloc status ${failed.id.slice(0, 8)}\``);
  const live = mine.filter((a) => a.desiredStatus === 'run');
  switch (condition) {
    case 'service_started':
      return live.some((a) => a.clientStatus === 'running' || a.clientStatus === 'complete');
    case 'service_completed_successfully':
      return mine.length > 0 && mine.every((a) => a.clientStatus === 'complete' || a.desiredStatus !== 'run') && mine.some((a) => a.clientStatus === 'complete');
    default:
      return live.filter((a) => a.clientStatus === 'running').length >= r.count && (await passing(r)) >= r.count;
  }
}

/** Resolves once `condition` holds for the service; rejects on failure or after `timeoutMs`. */
export async function waitFor(client: BerthClient, r: Registered, o: { condition: Condition; timeoutMs: number; signal?: AbortSignal }): Promise<void> {
  const deadline = Date.now() + o.timeoutMs;
  for (;;) {
    if (await holds(client, r, o.condition)) return;
    if (Date.now() > deadline) throw new CliError(`Service "${r.service}" did not become ${conditionWord(o.condition)} within ${Math.round(o.timeoutMs / 1000)} s; see \`berth job status ${r.jobId}\``);
    await sleep(POLL_MS, undefined, { signal: o.signal });
  }
}

/** The word for a condition met, in progress lines. */
export function conditionWord(c: Condition): string {
  return { service_started: 'running', service_healthy: 'healthy', service_completed_successfully: 'completed' }[c];
}
