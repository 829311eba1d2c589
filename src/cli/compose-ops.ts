/** `berth compose down|ps|logs|restart|scale|exec|ls`: what runs of a project, through its jobs. */
import { setTimeout as sleep } from 'node:timers/promises';
import { BerthClient } from '../api/index.ts';
import { normalizeProjectName } from '../compose/index.ts';
import { dockerMessage, dockerStatus } from '../drivers/index.ts';
import { isClientTerminal, type Allocation, type Job } from '../model/index.ts';
import { paint, type Style } from './colour.ts';
import { projectJobs, readProject, serviceOf, type ComposeOptions } from './compose-project.ts';
import { nodeEngine } from './compose-build.ts';
import { CliError } from './errors.ts';
import { execSession } from './exec.ts';
import { streamJobLogs, type LogLine } from './job-logs.ts';
import { printJson, table } from './output.ts';

/** The project's name: read from the files when there are any, as `docker compose` does. */
export function projectName(o: ComposeOptions): string {
  // -p alone names it, as with `docker compose -p NAME ps`: no file needed.
  if (o.projectName && !o.file) return normalizeProjectName(o.projectName);
  return readProject(o, { quiet: true }).project.name;
}

/** The jobs of the services named (all when none), each name checked against what runs. */
async function jobsOf(client: BerthClient, o: ComposeOptions, names: string[]): Promise<Job[]> {
  const name = projectName(o);
  const jobs = await projectJobs(client, name);
  for (const n of names) if (!jobs.some((j) => serviceOf(j) === n)) throw new CliError(`Project "${name}" runs no service "${n}"; it runs: ${jobs.map(serviceOf).join(', ') || 'nothing'}`);
  return names.length === 0 ? jobs : jobs.filter((j) => names.includes(serviceOf(j)));
}

/** `down`: stop every job of the project, wait until its allocations have stopped, then purge the jobs. */
export async function composeDown(o: ComposeOptions & { volumes?: boolean; timeout?: number; json?: boolean }): Promise<void> {
  const client = new BerthClient();
  const name = projectName(o);
  const jobs = await projectJobs(client, name, { stopped: true });
  await Promise.all(jobs.filter((j) => !j.stop).map((j) => client.stopJob(j.id)));
  const deadline = Date.now() + (o.timeout ?? 60) * 1000;
  for (const job of jobs) {
    for (;;) {
      const { value: allocs } = await client.jobAllocations(job.id);
      if (allocs.every(isClientTerminal)) break;
      if (Date.now() > deadline) throw new CliError(`Cannot take project "${name}" down: service "${serviceOf(job)}" still has running allocations; see \`berth job status ${job.id}\``);
      await sleep(200);
    }
  }
  for (const job of jobs) {
    await client.stopJob(job.id, true);
    process.stderr.write(` ${paint('green', '✔', process.stderr)} ${serviceOf(job)}  removed\n`);
  }
  if (o.volumes) await removeVolumes(client, o);
  if (jobs.length === 0) process.stderr.write(`Project "${name}" runs nothing\n`);
  if (o.json) printJson({ project: name, removed: jobs.map((j) => ({ service: serviceOf(j), jobId: j.id })) });
}

/**
 * `down -v`: the project's volumes (named ones it owns, not `external`, and anonymous ones),
 * removed from the node's engine on a one-node target this CLI reaches; otherwise each is named
 * with the fix.
 */
async function removeVolumes(client: BerthClient, o: ComposeOptions): Promise<void> {
  const { project, jobs } = readProject(o, { quiet: true });
  const external = new Set(Object.entries(project.volumes).filter(([, v]) => (v as { external?: unknown } | null)?.external === true).map(([k, v]) => (v as { name?: string }).name ?? k));
  const names = [...new Set(jobs.flatMap((j) => ((j.spec.groups as { tasks: { config: { volumes?: string[] } }[] }[])[0].tasks[0].config.volumes ?? []).map((v) => v.split(':')[0])))]
    .filter((src) => !src.includes('/') && !external.has(src));
  if (names.length === 0) return;
  const engine = await nodeEngine(client);
  if (!engine.ok) {
    process.stderr.write(`${paint('yellow', 'Warning:', process.stderr)} -v: volumes ${names.join(', ')} are left on the nodes: ${engine.why}; remove them there with \`docker volume rm\`\n`);
    return;
  }
  // The agents remove their stopped containers a moment after the allocations end: a volume still
  // in use (409) is tried again until the containers that held it are gone.
  const deadline = Date.now() + 30_000;
  for (const v of names) {
    for (;;) {
      try {
        await engine.docker.getVolume(v).remove();
        process.stderr.write(` ${paint('green', '✔', process.stderr)} volume ${v}  removed\n`);
      } catch (err) {
        if (dockerStatus(err) === 409 && Date.now() < deadline) {
          await sleep(250);
          continue;
        }
        if (dockerStatus(err) !== 404) process.stderr.write(`${paint('yellow', 'Warning:', process.stderr)} -v: volume ${v} is left on node ${engine.node.name}: ${dockerMessage(err)}\n`);
      }
      break;
    }
  }
}

/** `ps`: each allocation of the project's services, with its node, status and published ports. */
export async function composePs(o: ComposeOptions & { all?: boolean; json?: boolean }, names: string[]): Promise<void> {
  const client = new BerthClient();
  const jobs = await jobsOf(client, o, names);
  const rows: { service: string; alloc: Allocation }[] = [];
  for (const job of jobs) {
    const { value: allocs } = await client.jobAllocations(job.id);
    for (const a of allocs) if (o.all || a.desiredStatus === 'run') rows.push({ service: serviceOf(job), alloc: a });
  }
  if (o.json) return printJson(rows.map((r) => ({ service: r.service, alloc: r.alloc.id, name: r.alloc.name, node: r.alloc.nodeId, status: r.alloc.clientStatus, ports: r.alloc.ports })));
  const ports = (a: Allocation): string => a.ports.map((p) => `${p.value}->${p.to ?? p.value}`).join(', ');
  process.stdout.write(table(['Service', 'Alloc', 'Name', 'Node', 'Status', 'Ports'], rows.map((r) => [r.service, r.alloc.id.slice(0, 8), r.alloc.name, r.alloc.nodeId.slice(0, 8), r.alloc.clientStatus, ports(r.alloc)])) + '\n');
}

const PALETTE: Style[] = ['cyan', 'yellow', 'green', 'magenta', 'blue'];

/** `logs`: every service's output interleaved under `service-N |`, as `docker compose logs`. */
export async function composeLogs(o: ComposeOptions & { follow?: boolean; tail?: number; prefix: boolean }, names: string[]): Promise<void> {
  const client = new BerthClient();
  const jobs = await jobsOf(client, o, names);
  const width = Math.max(0, ...jobs.map((j) => serviceOf(j).length + 3));
  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort());
  await Promise.all(jobs.map((job, i) => streamJobLogs(client, job.id, {
    follow: o.follow === true,
    tail: o.tail,
    all: true,
    signal: abort.signal,
    onLine: (l: LogLine) => {
      const label = `${serviceOf(job)}-${l.alloc.index + 1}`;
      process.stdout.write(o.prefix ? `${paint(PALETTE[i % PALETTE.length], `${label.padEnd(width)} |`)} ${l.line}\n` : `${l.line}\n`);
    },
    onWarning: (m) => process.stderr.write(`${paint('yellow', 'Warning:', process.stderr)} ${m}\n`),
  })));
}

/** `restart`: the running tasks of each service restarted in place. */
export async function composeRestart(o: ComposeOptions & { json?: boolean }, names: string[]): Promise<void> {
  const client = new BerthClient();
  const done: { service: string; allocs: string[] }[] = [];
  for (const job of await jobsOf(client, o, names)) {
    const { value: allocs } = await client.jobAllocations(job.id);
    const running = allocs.filter((a) => a.clientStatus === 'running' && a.desiredStatus === 'run');
    await Promise.all(running.map((a) => client.restartAllocation(a.id)));
    done.push({ service: serviceOf(job), allocs: running.map((a) => a.id) });
    process.stderr.write(` ${paint('green', '✔', process.stderr)} ${serviceOf(job)}  restarted (${running.length})\n`);
  }
  if (o.json) printJson(done);
}

/** `scale SERVICE=N...`: each service's count changed in place. */
export async function composeScale(o: ComposeOptions & { json?: boolean }, pairs: string[]): Promise<void> {
  const client = new BerthClient();
  const wanted = pairs.map((p) => {
    const m = /^([^=]+)=(\d+)$/.exec(p);
    if (!m) throw new CliError(`Cannot scale: "${p}" is not SERVICE=COUNT (for example web=3)`, 2);
    return { service: m[1], count: Number(m[2]) };
  });
  const jobs = await jobsOf(client, o, wanted.map((w) => w.service));
  for (const w of wanted) {
    const job = jobs.find((j) => serviceOf(j) === w.service) as Job;
    await client.scaleJob(job.id, job.groups[0].name, w.count);
    process.stderr.write(` ${paint('green', '✔', process.stderr)} ${w.service}  scaled to ${w.count}\n`);
  }
  if (o.json) printJson(wanted);
}

/** `exec SERVICE CMD...`: a command inside one of the service's running tasks (`--index`, from 1). */
export async function composeExec(o: ComposeOptions & { index?: number; tty: boolean }, service: string, command: string[]): Promise<void> {
  const client = new BerthClient();
  const [job] = await jobsOf(client, o, [service]);
  const { value: allocs } = await client.jobAllocations(job.id);
  const index = (o.index ?? 1) - 1;
  const alloc = allocs.find((a) => a.index === index && a.clientStatus === 'running' && a.desiredStatus === 'run');
  if (!alloc) throw new CliError(`Cannot exec in service "${service}": its copy ${index + 1} is not running; see \`berth compose ps\``);
  const tty = o.tty && process.stdin.isTTY === true;
  process.exitCode = await execSession(client.allocExecUrl(alloc.id, { task: job.groups[0].tasks[0].name, command, tty }), tty);
}

/** `ls`: the projects the cluster runs, with their services' states and where their files are. */
export async function composeLs(o: { json?: boolean; all?: boolean }): Promise<void> {
  const client = new BerthClient();
  const { value: list } = await client.listJobs();
  const jobs = (await Promise.all(list.filter((j) => o.all || !j.stop).map((j) => client.getJob(j.id).then((job) => ({ job, item: j })).catch(() => undefined)))).filter((x) => x?.job.meta.compose_project);
  const projects = new Map<string, { running: number; services: number; dir: string }>();
  for (const x of jobs) {
    if (!x) continue;
    const p = projects.get(x.job.meta.compose_project) ?? { running: 0, services: 0, dir: x.job.meta.compose_working_dir ?? '' };
    p.services += 1;
    if (Object.values(x.item.summary).some((g) => g.running > 0)) p.running += 1;
    projects.set(x.job.meta.compose_project, p);
  }
  if (o.json) return printJson([...projects].map(([name, p]) => ({ name, ...p })));
  process.stdout.write(table(['Name', 'Status', 'Directory'], [...projects].map(([name, p]) => [name, `running(${p.running}/${p.services})`, p.dir])) + '\n');
}
