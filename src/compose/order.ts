/** The order services start in: each after the services it depends on (Kahn's algorithm, ties by name). */
import type { MappedService } from './map.ts';

/** Batches of services that may start together, dependencies first; a cycle is an error naming it. */
export function dependencyOrder(jobs: readonly MappedService[]): { ok: true; batches: string[][] } | { ok: false; cycle: string[] } {
  const names = new Set(jobs.map((j) => j.service));
  const deps = new Map(jobs.map((j) => [j.service, Object.keys(j.dependsOn).filter((d) => names.has(d))]));
  const done = new Set<string>();
  const batches: string[][] = [];
  while (done.size < names.size) {
    const ready = [...names].filter((n) => !done.has(n) && (deps.get(n) ?? []).every((d) => done.has(d))).sort();
    if (ready.length === 0) return { ok: false, cycle: findCycle(deps, done) };
    batches.push(ready);
    for (const n of ready) done.add(n);
  }
  return { ok: true, batches };
}

/** A cycle as a message: where it is, the services in it, and the fix. */
export function cycleMessage(cycle: readonly string[]): string {
  return `services.${cycle[0]}.depends_on: a dependency cycle ${cycle.join(' -> ')}; remove one of these depends_on entries`;
}

function findCycle(deps: Map<string, string[]>, done: Set<string>): string[] {
  const start = [...deps.keys()].find((n) => !done.has(n)) ?? '';
  const path = [start];
  for (let n = start; ; ) {
    n = (deps.get(n) ?? []).find((d) => !done.has(d)) ?? start;
    const at = path.indexOf(n);
    if (at >= 0) return [...path.slice(at), n];
    path.push(n);
  }
}
