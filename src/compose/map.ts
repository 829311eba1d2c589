/**
 * A Compose project as berth job specs (the table is in the README, "Compose"): one job
 * `<project>-<service>` per service, with the project in its meta. Every key berth does not honour
 * is named in a warning, never dropped in silence.
 */
import { stringify } from 'yaml';
import { parseJobSpec, formatErrors } from '../jobspec/index.ts';
import type { ReadFile } from './load.ts';
import { berthName, jobIdOf, obj, type MapContext, type Obj } from './map-context.ts';
import { fileTemplates, groupPorts, groupServices, healthCheck, taskVolumes, volumeWarnings } from './map-group.ts';
import { lifecycle, placement, updateBlock } from './map-job.ts';
import { buildOf, killTimeout, taskConfig, taskEnv, taskLogs, taskResources, type BuildSpec } from './map-task.ts';
import { mergeValue } from './merge.ts';
import { networkWarnings, serviceScopes } from './map-networks.ts';
import { checkValues } from './values.ts';
import type { ComposeProblem, ComposeProject, ComposeWarning } from './types.ts';

/** Service keys the mapping reads (or that reading the project already applied). */
const HONOURED = new Set([
  'image', 'build', 'command', 'entrypoint', 'environment', 'env_file', 'working_dir', 'user', 'labels', 'ports', 'expose',
  'healthcheck', 'restart', 'deploy', 'scale', 'stop_grace_period', 'stop_signal', 'volumes', 'tmpfs', 'secrets', 'configs',
  'dns', 'extra_hosts', 'hostname', 'cap_add', 'cap_drop', 'privileged', 'devices', 'logging', 'pull_policy', 'network_mode',
  'depends_on', 'profiles', 'extends', 'container_name', 'links', 'networks', 'cpus', 'mem_limit', 'mem_reservation', 'init',
]);

/** Keys of `deploy` the mapping reads. */
const DEPLOY_HONOURED = new Set(['mode', 'replicas', 'resources', 'restart_policy', 'placement', 'update_config', 'rollback_config', 'labels']);

/** A service's `depends_on` entry, long form. */
export interface Dependency {
  condition: 'service_started' | 'service_healthy' | 'service_completed_successfully';
  required: boolean;
  restart: boolean;
}

/** One service as a berth job. */
export interface MappedService {
  service: string;
  jobId: string;
  /** The berth job spec (snake_case, as in a job file). */
  spec: Obj;
  dependsOn: Record<string, Dependency>;
  /** The image `compose up` builds first (a one-node target, a service with `build`). */
  build?: BuildSpec;
}

export interface MapOptions {
  read: ReadFile;
  /** How many nodes the project may run on: `build` is run on one (by `compose up`), refused above one without `image`. Default 1. */
  nodes?: number;
}

export interface MapResult {
  jobs: MappedService[];
  warnings: ComposeWarning[];
  problems: ComposeProblem[];
}

const CONDITIONS = { service_started: 'started', service_healthy: 'healthy', service_completed_successfully: 'completed' } as const;

/** `depends_on` as berth's `after:` with conditions: `{job, condition, restart}` per dependency in the project. */
export function afterEntries(project: string, dependsOn: Record<string, Dependency>, services: readonly string[]): Obj[] {
  return Object.entries(dependsOn)
    .filter(([d]) => services.includes(d))
    .map(([d, v]) => ({ job: jobIdOf(project, d), condition: CONDITIONS[v.condition] ?? 'started', ...(v.restart ? { restart: true } : {}) }));
}

let serverAfter: boolean | undefined;

/**
 * Whether berth's job spec reader takes `after:` with conditions on a service job (the job feature
 * of the dependencies work): then the specs carry it and the server holds each job's placements
 * until its dependencies meet their conditions; otherwise `compose up` alone orders them.
 */
export function jobsTakeConditions(): boolean {
  serverAfter ??= parseJobSpec(JSON.stringify({ id: 'probe', type: 'service', after: [{ job: 'dep', condition: 'healthy' }], groups: [{ name: 'g', tasks: [{ name: 't', driver: 'docker', config: { image: 'i' } }] }] }), { format: 'json' }).ok;
  return serverAfter;
}

/** Every service of the project as a job spec, checked by berth's own job spec reader. */
export function mapProject(project: ComposeProject, o: MapOptions): MapResult {
  const ctx: MapContext = { project, read: o.read, nodes: o.nodes ?? 1, warnings: [], problems: [] };
  networkWarnings(ctx);
  volumeWarnings(ctx);
  const jobs = Object.entries(project.services).map(([name, svc]) => mapService(name, svc, ctx));
  if (jobsTakeConditions()) {
    for (const job of jobs) {
      const after = afterEntries(project.name, job.dependsOn, Object.keys(project.services));
      if (after.length > 0) job.spec = { ...job.spec, after };
    }
  }
  for (const job of jobs) {
    const check = parseJobSpec(JSON.stringify(job.spec), { format: 'json', source: job.jobId });
    if (!check.ok) ctx.problems.push({ path: `services.${job.service}`, message: `makes an invalid berth job:\n${formatErrors(check.errors, job.jobId)}` });
  }
  return { jobs, warnings: ctx.warnings, problems: ctx.problems };
}

/** Keys not honoured, by name. */
function reportUnknown(svc: Obj, at: string, ctx: MapContext): void {
  for (const k of Object.keys(svc)) {
    if (k.startsWith('x-') || HONOURED.has(k)) continue;
    ctx.warnings.push({ path: `${at}.${k}`, message: 'not honoured by berth' });
  }
  for (const k of Object.keys(obj(svc.deploy) ?? {})) {
    if (!DEPLOY_HONOURED.has(k) && !k.startsWith('x-')) ctx.warnings.push({ path: `${at}.deploy.${k}`, message: 'not honoured by berth' });
  }
}

/** Aliases that name a service: its `container_name`, and `links` of other services written `service:alias`. */
function aliasesOf(name: string, svc: Obj, project: ComposeProject): string[] {
  const out = typeof svc.container_name === 'string' ? [svc.container_name] : [];
  for (const other of Object.values(project.services)) {
    for (const link of (other.links as string[] | undefined) ?? []) {
      const [target, alias] = String(link).split(':');
      if (target === name && alias) out.push(alias);
    }
  }
  return out;
}

 
function mapService(name: string, svc: Obj, ctx: MapContext): MappedService {
  const at = `services.${name}`;
  const sctx = { ...ctx, service: name };
  reportUnknown(svc, at, ctx);
  checkValues(svc, at, ctx);
  const jobId = jobIdOf(ctx.project.name, name);
  const deploy = obj(svc.deploy) ?? {};
  const life = lifecycle(svc, at, ctx);
  const ports = groupPorts(svc, at, ctx);
  const { templates, binds } = fileTemplates(svc, at, ctx);
  const env = taskEnv(svc, at, ctx);
  const config = taskConfig(svc, at, sctx);
  const aliases = aliasesOf(name, svc, ctx.project);
  const scopes = serviceScopes(svc, { name, at, also: aliases }, ctx);
  if (scopes.search.length > 0 && svc.dns_search === undefined) config.dns_search = scopes.search;
  const { volumes, tmpfs } = taskVolumes(svc, at, sctx);
  if (volumes.length + binds.length > 0) config.volumes = [...volumes, ...binds];
  if (tmpfs.length > 0) config.tmpfs = tmpfs;
  const task: Obj = { name: berthName(name), driver: 'docker', config, env };
  const resources = taskResources(svc, at, ctx);
  if (resources) task.resources = resources;
  const kill = killTimeout(svc, at, ctx);
  if (kill) task.kill_timeout = kill;
  const logs = taskLogs(svc, at, ctx);
  if (logs) task.logs = logs;
  if (templates.length > 0) task.templates = templates;
  const count = deploy.replicas ?? svc.scale;
  const group: Obj = { name: berthName(name), count: count === undefined ? 1 : Number(count), tasks: [task] };
  if (ports.length > 0) group.ports = ports;
  if (life.restart) group.restart = life.restart;
  if (life.reschedule) group.reschedule = life.reschedule;
  const services = groupServices(name, { project: ctx.project.name, ports, check: healthCheck(svc, at, ctx), aliases, scoped: scopes.names });
  group.services = services;
  const update = updateBlock(svc, at, ctx);
  if (update && life.type !== 'batch') group.update = update;
  Object.assign(group, placement(svc, at, ctx));
  const dependsOn = (obj(svc.depends_on) ?? {}) as Record<string, Partial<Dependency>>;
  const meta: Record<string, string> = {
    compose_project: ctx.project.name,
    compose_service: name,
    compose_working_dir: ctx.project.workingDir,
  };
  if (Object.keys(dependsOn).length > 0) meta.compose_depends_on = Object.entries(dependsOn).map(([d, v]) => `${d}:${v.condition ?? 'service_started'}`).join(',');
  const networks = Object.keys(obj(svc.networks) ?? {});
  if (networks.length > 0) meta.compose_networks = networks.join(',');
  for (const [k, v] of Object.entries(obj(deploy.labels) ?? {})) meta[`compose_label_${k}`] = String(v);
  let spec: Obj = { id: jobId, type: life.type, meta, groups: [group] };
  spec = withBerthSettings(spec, svc, ctx);
  const build = buildOf(svc, at, sctx);
  return {
    service: name,
    jobId,
    spec,
    ...(build ? { build } : {}),
    dependsOn: Object.fromEntries(Object.entries(dependsOn).map(([d, v]) => [d, { condition: v.condition ?? 'service_started', required: v.required !== false, restart: v.restart === true }])),
  };
}

/**
 * `x-berth` (berth-only settings): the project's top-level one and then the service's, merged onto
 * the job spec by Compose's merge rules; `group:` and `task:` inside merge onto the group and task.
 */
function withBerthSettings(spec: Obj, svc: Obj, ctx: MapContext): Obj {
  let out = spec;
  for (const layer of [ctx.project.extensions['x-berth'], svc['x-berth']]) {
    const x = obj(layer);
    if (!x) continue;
    const { group, task, ...job } = x;
    out = mergeValue(out, job, '~job') as Obj;
    const g = (out.groups as Obj[])[0];
    const merged = obj(group) ? (mergeValue(g, group, '~group') as Obj) : g;
    const t = (merged.tasks as Obj[])[0];
    merged.tasks = [obj(task) ? mergeValue(t, task, '~task') : t];
    out = { ...out, groups: [merged] };
  }
  return out;
}

/** The job specs as one YAML stream, a document per job (what `berth compose convert` prints). */
export function specsYaml(jobs: MappedService[]): string {
  return jobs.map((j) => stringify(j.spec, { lineWidth: 0 })).join('---\n');
}
