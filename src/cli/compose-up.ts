/**
 * `berth compose up`: registers a job per service in dependency order, each once the services it
 * depends on meet their conditions, and shows each service's progress as it goes. Re-running it on
 * an unchanged file registers the same specs, which the server keeps as they are.
 */
import { BerthClient } from '../api/index.ts';
import { cycleMessage, dependencyOrder, type MappedService } from '../compose/index.ts';
import { paint } from './colour.ts';
import { buildServices } from './compose-build.ts';
import { nodeCount, projectJobs, readProject, serviceOf, type ComposeOptions } from './compose-project.ts';
import { conditionWord, waitFor, type Condition, type Registered } from './compose-wait.ts';
import { CliError } from './errors.ts';
import { printJson } from './output.ts';

export interface UpOptions {
  detach?: boolean;
  /** Print each service's registration as JSON on stdout at the end. */
  json?: boolean;
  removeOrphans?: boolean;
  /** Build images even when they exist. */
  build?: boolean;
  /** Seconds to wait for each service; default 300. */
  waitTimeout?: number;
}

/** One progress line: ` ✔ db  healthy`. */
function say(service: string, width: number, what: string, mark: 'done' | 'wait' | 'fail' = 'done'): void {
  const sign = { done: paint('green', '✔', process.stderr), wait: paint('dim', '…', process.stderr), fail: paint('red', '✘', process.stderr) }[mark];
  process.stderr.write(` ${sign} ${service.padEnd(width)}  ${what}\n`);
}

/** What `up` waits for before it calls a service up: completed for one-shots, healthy with a check, else running. */
function readyCondition(job: MappedService): Condition {
  if (job.spec.type === 'batch') return 'service_completed_successfully';
  const groups = job.spec.groups as { services?: { checks?: unknown[] }[] }[];
  return groups[0].services?.some((s) => (s.checks ?? []).length > 0) ? 'service_healthy' : 'service_started';
}

/** The services named and, transitively, those they depend on. */
function withDependencies(jobs: MappedService[], names: string[]): MappedService[] {
  if (names.length === 0) return jobs;
  const want = new Set<string>();
  const add = (n: string): void => {
    if (want.has(n)) return;
    want.add(n);
    for (const d of Object.keys(jobs.find((j) => j.service === n)?.dependsOn ?? {})) add(d);
  };
  names.forEach(add);
  return jobs.filter((j) => want.has(j.service));
}

/** Runs `up`: every selected service registered after its dependencies, then (without -d) waited for. */
export async function composeUp(o: ComposeOptions & UpOptions, names: string[]): Promise<void> {
  const client = new BerthClient();
  const { project, jobs: all } = readProject(o, { services: names, nodes: await nodeCount(client) });
  const jobs = withDependencies(all, names);
  const order = dependencyOrder(jobs);
  if (!order.ok) throw new CliError(`Cannot start project "${project.name}": ${cycleMessage(order.cycle)}`);
  const width = Math.max(...jobs.map((j) => j.service.length));
  await buildServices(client, jobs, { always: o.build === true, say: (service, what) => say(service, width, what) });
  const timeoutMs = (o.waitTimeout ?? 300) * 1000;
  const registered = new Map<string, Promise<Registered>>();
  const results: { service: string; jobId: string; version: number; changed: boolean; evalId: string }[] = [];
  const reached = new Map<string, Promise<void>>();
  // A dependency's condition, waited for once however many services need it.
  const meet = (service: string, condition: Condition): Promise<void> => {
    const key = `${service}/${condition}`;
    let p = reached.get(key);
    if (!p) {
      p = (registered.get(service) ?? Promise.reject(new CliError(`Service "${service}" is not part of this run`))).then(async (r) => {
        await waitFor(client, r, { condition, timeoutMs });
        say(service, width, conditionWord(condition));
      });
      reached.set(key, p);
    }
    return p;
  };
  const start = async (job: MappedService): Promise<Registered> => {
    for (const [dep, d] of Object.entries(job.dependsOn)) {
      if (!jobs.some((j) => j.service === dep)) continue;
      say(job.service, width, `waiting for ${dep} to be ${conditionWord(d.condition)}`, 'wait');
      await meet(dep, d.condition);
    }
    const result = await client.registerJob(job.spec, 'json');
    results.push({ service: job.service, jobId: job.jobId, version: result.version, changed: result.changed, evalId: result.evalId });
    say(job.service, width, result.changed ? `registered (job ${job.jobId}, version ${result.version})` : 'unchanged');
    const group = (job.spec.groups as { count: number; services?: { name: string }[] }[])[0];
    return { service: job.service, jobId: job.jobId, version: result.version, count: group.count, catalogName: group.services?.[0]?.name ?? job.service, project: project.name };
  };
  // Every service starts its own chain at once; the order comes from each waiting on its dependencies.
  for (const batch of order.batches) for (const name of batch) {
    const job = jobs.find((j) => j.service === name) as MappedService;
    registered.set(name, start(job));
  }
  const failures: string[] = [];
  const ends = jobs.map(async (job) => {
    try {
      await registered.get(job.service);
      if (!o.detach) await meet(job.service, readyCondition(job));
    } catch (err) {
      failures.push((err as Error).message);
      say(job.service, width, (err as Error).message, 'fail');
    }
  });
  await Promise.all(ends);
  await Promise.allSettled([...reached.values()]);
  if (failures.length > 0) throw new CliError(failures[0]);
  await orphans(client, project.name, all, o.removeOrphans === true);
  if (o.json) printJson({ project: project.name, services: results });
  if (!o.detach) process.stderr.write(`Project "${project.name}" is up: ${jobs.length} service${jobs.length === 1 ? '' : 's'}. See \`berth compose ps\`, \`berth compose logs -f\`\n`);
}

/** Jobs of the project for services no longer in the file: named, and stopped with --remove-orphans. */
async function orphans(client: BerthClient, project: string, jobs: MappedService[], remove: boolean): Promise<void> {
  const running = await projectJobs(client, project);
  const left = running.filter((j) => !jobs.some((m) => m.jobId === j.id));
  for (const j of left) {
    if (remove) {
      await client.stopJob(j.id, true);
      process.stderr.write(`Removed orphan service ${serviceOf(j)} (job ${j.id})\n`);
    } else {
      process.stderr.write(`${paint('yellow', 'Warning:', process.stderr)} job ${j.id} runs service "${serviceOf(j)}", which is not in the project now; --remove-orphans stops it\n`);
    }
  }
}
