/** A Compose service's container settings as a berth docker task's `config`, `env` and `resources`. */
import { parse as parseDotenv } from 'dotenv';
import { jobIdOf, obj, type MapContext, type Obj } from './map-context.ts';
import { durationMs, shellWords, sizeMiB } from './units.ts';

/** `command`/`entrypoint` as a list of words (a string is split as a shell would, without expansion). */
export function words(v: unknown): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  return Array.isArray(v) ? v.map(String) : shellWords(String(v));
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `env_file` entries read with dotenv (later files win), then `environment` over them; a null value comes from the shell. */
export function taskEnv(svc: Obj, at: string, ctx: MapContext): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [i, f] of ((svc.env_file as Obj[] | undefined) ?? []).entries()) {
    const text = ctx.read(String(f.path));
    if (text === undefined) {
      if (f.required !== false) ctx.problems.push({ path: `${at}.env_file[${i}]`, message: `${String(f.path)}: no such file; create it or mark it required: false` });
      continue;
    }
    Object.assign(env, parseDotenv(text));
  }
  for (const [k, v] of Object.entries((svc.environment as Record<string, string | null> | undefined) ?? {})) {
    const value = v ?? ctx.project.environment[k];
    if (value !== undefined) env[k] = value;
  }
  for (const k of Object.keys(env)) {
    if (ENV_NAME.test(k)) continue;
    ctx.warnings.push({ path: `${at}.environment.${k}`, message: 'not passed: berth takes variable names of letters, digits and _ only (an image reading dotted names needs them in a file or its command)' });
    delete env[k];
  }
  return env;
}

/** The docker task config: image, command, entrypoint and the container options berth's driver has. */
export function taskConfig(svc: Obj, at: string, ctx: MapContext & { service: string }): Obj {
  const config: Obj = { image: imageOf(svc, at, ctx) };
  // A built image exists on its node only: never pulled.
  if (typeof svc.image !== 'string') config.pull = 'never';
  const command = words(svc.command);
  if (command && command.length > 0) {
    config.command = command[0];
    config.args = command.slice(1);
  }
  const entrypoint = words(svc.entrypoint);
  if (entrypoint) config.entrypoint = entrypoint;
  if (svc.working_dir !== undefined) config.workdir = String(svc.working_dir);
  if (svc.user !== undefined) config.user = String(svc.user);
  if (svc.stop_signal !== undefined) config.stop_signal = String(svc.stop_signal);
  if (svc.hostname !== undefined) config.hostname = String(svc.hostname);
  if (svc.pull_policy !== undefined) config.pull = pullPolicy(String(svc.pull_policy), `${at}.pull_policy`, ctx);
  const hosts = obj(svc.extra_hosts);
  if (hosts && Object.keys(hosts).length > 0) config.extra_hosts = Object.entries(hosts).map(([h, ip]) => `${h}:${String(ip)}`);
  if (Array.isArray(svc.dns)) config.dns_servers = svc.dns.map(String);
  const labels = obj(svc.labels);
  if (labels && Object.keys(labels).length > 0) config.labels = Object.fromEntries(Object.entries(labels).map(([k, v]) => [k, v === null ? '' : String(v)]));
  if (svc.privileged === true) config.privileged = true;
  if (svc.init === true) config.init = true;
  for (const k of ['cap_add', 'cap_drop'] as const) if (Array.isArray(svc[k]) && svc[k].length > 0) config[k] = svc[k].map(String);
  const devices = deviceList(svc.devices, `${at}.devices`, ctx);
  if (devices.length > 0) config.devices = devices;
  if (svc.network_mode !== undefined) networkMode(String(svc.network_mode), config, `${at}.network_mode`, ctx);
  return config;
}

/** The image; a service with only `build` gets Compose's name for what it builds, `<project>-<service>`. */
function imageOf(svc: Obj, at: string, ctx: MapContext & { service: string }): string {
  const built = jobIdOf(ctx.project.name, ctx.service);
  if (svc.build === undefined) {
    if (typeof svc.image !== 'string') ctx.problems.push({ path: at, message: 'has neither image nor build; set image' });
    return typeof svc.image === 'string' ? svc.image : built;
  }
  if (ctx.nodes > 1) {
    if (typeof svc.image === 'string') {
      ctx.warnings.push({ path: `${at}.build`, message: `not run on a cluster of ${ctx.nodes} nodes: each node pulls the image "${svc.image}" as given (build and push it first)` });
    } else {
      ctx.problems.push({ path: `${at}.build`, message: `cannot be built for a cluster of ${ctx.nodes} nodes: an image built on one node is missing on the others; build and push it, then set image: (for example image: registry.example/${built}:1)` });
    }
  }
  return typeof svc.image === 'string' ? svc.image : built;
}

/** The build keys `compose up` passes to the engine. */
const BUILD_HONOURED = new Set(['context', 'dockerfile', 'args', 'target']);

/**
 * What `compose up` builds on a one-node target before it registers the service (Engine API
 * `/build`, the context tarred): the context, Dockerfile, args and target, tagged with the image.
 */
export function buildOf(svc: Obj, at: string, ctx: MapContext & { service: string }): BuildSpec | undefined {
  const b = obj(svc.build);
  if (!b || ctx.nodes > 1) return undefined;
  for (const k of Object.keys(b)) if (!BUILD_HONOURED.has(k) && !k.startsWith('x-')) ctx.warnings.push({ path: `${at}.build.${k}`, message: 'not honoured: berth builds with context, dockerfile, args and target' });
  const context = String(b.context);
  if (/^[a-z]+:\/\/|^git@/.test(context)) {
    ctx.problems.push({ path: `${at}.build.context`, message: `"${context}" is a remote context, which berth does not fetch; clone it and give its directory` });
    return undefined;
  }
  const args = Object.fromEntries(Object.entries(obj(b.args) ?? {}).filter(([, v]) => v !== null && v !== undefined).map(([k, v]) => [k, String(v)]));
  return {
    context,
    tag: typeof svc.image === 'string' ? svc.image : jobIdOf(ctx.project.name, ctx.service),
    ...(typeof b.dockerfile === 'string' ? { dockerfile: b.dockerfile } : {}),
    ...(Object.keys(args).length > 0 ? { args } : {}),
    ...(typeof b.target === 'string' ? { target: b.target } : {}),
  };
}

/** An image `compose up` builds: see `buildOf`. */
export interface BuildSpec {
  /** The context directory, absolute. */
  context: string;
  /** The image it is tagged as: `image`, else `<project>-<service>`. */
  tag: string;
  dockerfile?: string;
  args?: Record<string, string>;
  target?: string;
}

function pullPolicy(v: string, at: string, ctx: MapContext): string {
  const table: Record<string, string> = { always: 'always', missing: 'missing', if_not_present: 'missing', never: 'never', build: 'never' };
  if (table[v]) return table[v];
  ctx.warnings.push({ path: at, message: `"${v}" is not one berth has (always, missing, never): missing is used` });
  return 'missing';
}

function deviceList(v: unknown, at: string, ctx: MapContext): string[] {
  if (!Array.isArray(v)) return [];
  return v.flatMap((d, i) => {
    if (typeof d === 'string') return [d];
    const o = obj(d);
    if (o && typeof o.source === 'string') return [`${o.source}${o.target ? `:${String(o.target)}` : ''}${o.permissions ? `:${String(o.permissions)}` : ''}`];
    ctx.warnings.push({ path: `${at}[${i}]`, message: 'not honoured: berth takes device paths (/dev/x[:/dev/y[:rwm]])' });
    return [];
  });
}

function networkMode(mode: string, config: Obj, at: string, ctx: MapContext): void {
  if (mode === 'host' || mode === 'bridge' || mode === 'none') config.network_mode = mode;
  else ctx.warnings.push({ path: at, message: `"${mode}" is not honoured: berth runs the container on the node's bridge (services and containers are reached through service names, not a shared namespace)` });
}

/** `deploy.resources` (and the older `cpus`, `mem_limit`, `mem_reservation`) as berth's reservation and memory limit. */
export function taskResources(svc: Obj, at: string, ctx: MapContext): Obj | undefined {
  const res = obj(obj(svc.deploy)?.resources);
  const limits = obj(res?.limits) ?? {};
  const reserve = obj(res?.reservations) ?? {};
  const cpu = Number(reserve.cpus ?? limits.cpus ?? svc.cpus ?? NaN);
  const memLimit = sizeMiB(limits.memory ?? svc.mem_limit);
  const memReserve = sizeMiB(reserve.memory ?? svc.mem_reservation);
  const out: Obj = {};
  if (Number.isFinite(cpu) && cpu > 0) out.cpu = cpu;
  if (memReserve !== undefined) out.memory = memReserve;
  if (memLimit !== undefined) {
    if (memReserve === undefined) out.memory = memLimit;
    else if (memLimit > memReserve) out.memory_max = memLimit;
  }
  if (limits.pids !== undefined) ctx.warnings.push({ path: `${at}.deploy.resources.limits.pids`, message: 'not honoured: berth sets no pids limit' });
  if (reserve.devices !== undefined || reserve.generic_resources !== undefined) ctx.warnings.push({ path: `${at}.deploy.resources.reservations`, message: 'devices and generic_resources are not honoured: berth places by cpu and memory only' });
  if (limits.cpus !== undefined && reserve.cpus === undefined) ctx.warnings.push({ path: `${at}.deploy.resources.limits.cpus`, message: 'is a reservation in berth (what placement counts), not a hard cap' });
  return Object.keys(out).length > 0 ? out : undefined;
}

/** `logging` with the json-file or local driver as berth's log rotation; other drivers are reported. */
export function taskLogs(svc: Obj, at: string, ctx: MapContext): Obj | undefined {
  const logging = obj(svc.logging);
  if (!logging) return undefined;
  const driver = logging.driver === undefined ? 'json-file' : String(logging.driver);
  if (driver !== 'json-file' && driver !== 'local') {
    ctx.warnings.push({ path: `${at}.logging.driver`, message: `"${driver}" is not honoured: berth keeps each task's output in rotated files on its node (\`berth compose logs\`)` });
    return undefined;
  }
  const opts = obj(logging.options) ?? {};
  const out: Obj = {};
  const size = sizeMiB(opts['max-size']);
  if (size !== undefined) out.max_file_size = `${size}Mi`;
  if (opts['max-file'] !== undefined) out.max_files = Number(opts['max-file']);
  for (const k of Object.keys(opts)) if (k !== 'max-size' && k !== 'max-file') ctx.warnings.push({ path: `${at}.logging.options.${k}`, message: 'not honoured: berth rotates by max-size and max-file only' });
  return Object.keys(out).length > 0 ? out : undefined;
}

/** `stop_grace_period` as the kill timeout. */
export function killTimeout(svc: Obj, at: string, ctx: MapContext): string | undefined {
  if (svc.stop_grace_period === undefined) return undefined;
  const ms = durationMs(svc.stop_grace_period);
  if (ms === undefined) ctx.problems.push({ path: `${at}.stop_grace_period`, message: `"${String(svc.stop_grace_period)}" is not a duration (10s, 1m30s)` });
  return ms === undefined ? undefined : `${ms}ms`;
}
