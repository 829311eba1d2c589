/**
 * The parts of a Compose service that become berth's group and job settings: ports and the
 * service registration with its check, volumes, secrets and configs as templates, the job type and
 * restart policy, rolling updates, and placement.
 */
import { createHash } from 'node:crypto';
import { berthName, dnsLabel, obj, type MapContext, type Obj } from './map-context.ts';
import { durationMs } from './units.ts';

/** Published ports fixed on the node (`static`), `expose`d ones on a port the node picks; labels `p<target>` and `e<target>`. */
export function groupPorts(svc: Obj, at: string, ctx: MapContext): Obj[] {
  const ports: Obj[] = [];
  for (const [i, p] of ((svc.ports as Obj[] | undefined) ?? []).entries()) {
    const target = Number(p.target);
    const published = p.published === undefined || p.published === '' ? undefined : String(p.published);
    if (p.protocol !== undefined && p.protocol !== 'tcp') ctx.warnings.push({ path: `${at}.ports[${i}].protocol`, message: `${String(p.protocol)} is published as tcp: berth's ports are tcp only` });
    if (p.host_ip !== undefined && p.host_ip !== '0.0.0.0' && p.host_ip !== '::') ctx.warnings.push({ path: `${at}.ports[${i}].host_ip`, message: `not honoured: berth publishes on every address of the node, not only ${String(p.host_ip)}` });
    if (published !== undefined && !/^\d+$/.test(published)) {
      ctx.warnings.push({ path: `${at}.ports[${i}].published`, message: `range "${published}" is not honoured: the node picks the port; publish one port per entry` });
    }
    const label = `p${target}`;
    if (ports.some((x) => x.label === label)) {
      ctx.warnings.push({ path: `${at}.ports[${i}]`, message: `target ${target} is published once: berth maps one host port per container port` });
      continue;
    }
    ports.push(published !== undefined && /^\d+$/.test(published) ? { label, static: Number(published), to: target } : { label, to: target });
  }
  for (const e of (svc.expose as string[] | undefined) ?? []) {
    const target = Number(String(e).split('/')[0].split('-')[0]);
    if (!ports.some((p) => p.to === target)) ports.push({ label: `e${target}`, to: target });
  }
  return ports;
}

/** `healthcheck` as a script check run inside the container; undefined for NONE or `disable`. */
export function healthCheck(svc: Obj, at: string, ctx: MapContext): Obj | undefined {
  const hc = obj(svc.healthcheck);
  if (!hc || hc.disable === true) return undefined;
  const test = Array.isArray(hc.test) ? hc.test.map(String) : undefined;
  if (!test || test.length === 0 || test[0] === 'NONE') return undefined;
  const check: Obj = { name: 'healthcheck', type: 'script' };
  if (test[0] === 'CMD-SHELL') Object.assign(check, { command: '/bin/sh', args: ['-c', test.slice(1).join(' ')] });
  else if (test[0] === 'CMD') Object.assign(check, { command: test[1], args: test.slice(2) });
  else Object.assign(check, { command: '/bin/sh', args: ['-c', test.join(' ')] });
  // Docker's defaults: 30s interval and timeout, 3 retries.
  check.interval = `${durationMs(hc.interval) ?? 30_000}ms`;
  check.timeout = `${durationMs(hc.timeout) ?? 30_000}ms`;
  // Docker turns unhealthy after `retries` consecutive failures; berth's count is of failures before that one.
  check.failures_before_critical = Math.max(0, Number(hc.retries ?? 3) - 1);
  if (hc.start_interval !== undefined) ctx.warnings.push({ path: `${at}.healthcheck.start_interval`, message: 'not honoured: berth checks at interval from the start (until the first pass the service is not healthy, as during start_period)' });
  return check;
}

/**
 * The berth services of a Compose service: one named after it (`db.service.berth`), one per
 * `container_name` and per `links` alias pointing at it, and its names in each of its networks'
 * scopes (`db--shop-default`: the bare `db:5432` from the project's containers; map-networks.ts).
 */
export function groupServices(name: string, at: { project: string; ports: Obj[]; check: Obj | undefined; aliases: string[]; scoped?: string[] }): Obj[] {
  const { ports, check, aliases } = at;
  const meta = { compose_project: at.project, compose_service: name };
  const port = ports[0]?.label;
  const scoped = new Set(at.scoped ?? []);
  const names = [...new Set([dnsLabel(name), ...aliases.map(dnsLabel), ...scoped])].filter(Boolean);
  return names.map((n, i) => ({
    name: n,
    ...(port ? { port } : {}),
    tags: ['compose'],
    meta,
    // The check runs on the service named after the Compose service and on its scoped names (what
    // containers connect to, which must reach passing instances only); not again on global aliases.
    ...(check && (i === 0 || scoped.has(n)) ? { checks: [check] } : {}),
  }));
}

/**
 * Bind mounts (absolute), named volumes as `<project>_<name>` (external: as named), anonymous ones
 * named after their target; `tmpfs` (the key and `type: tmpfs` volumes) as the task's tmpfs mounts.
 */
export function taskVolumes(svc: Obj, at: string, ctx: MapContext & { service: string }): { volumes: string[]; tmpfs: string[] } {
  const out: string[] = [];
  const tmpfs = ((svc.tmpfs as unknown[] | undefined) ?? []).map(String);
  for (const [i, v] of ((svc.volumes as Obj[] | undefined) ?? []).entries()) {
    const ro = v.read_only === true ? ':ro' : '';
    const target = String(v.target);
    if (v.type === 'bind') out.push(`${String(v.source)}:${target}${ro}`);
    else if (v.type === 'volume') out.push(`${volumeName(v.source, target, ctx)}:${target}${ro}`);
    else if (v.type === 'tmpfs') tmpfs.push(tmpfsEntry(target, obj(v.tmpfs), `${at}.volumes[${i}].tmpfs`, ctx));
    else ctx.warnings.push({ path: `${at}.volumes[${i}]`, message: `type ${String(v.type)} is not honoured: berth mounts binds, named volumes and tmpfs` });
    if (v.type === 'bind' || v.type === 'volume') volumeOptionWarnings(v, `${at}.volumes[${i}]`, ctx);
  }
  return { volumes: out, tmpfs };
}

/**
 * The options of a bind or volume mount berth does not pass on, each by name: it mounts source,
 * target and read_only. A bind's missing host path is created as Docker's binds do, so
 * `create_host_path: true` (Compose's default) is honoured and only `false` is named.
 */
function volumeOptionWarnings(v: Obj, at: string, ctx: MapContext): void {
  const say = (path: string, message: string): void => void ctx.warnings.push({ path, message });
  if (typeof v.mode === 'string') say(`${at}`, `mount options "${v.mode}" are not honoured: berth mounts read-write or :ro`);
  if (v.consistency !== undefined) say(`${at}.consistency`, 'not honoured by berth');
  for (const kind of ['bind', 'volume', 'image'] as const) {
    for (const [k, value] of Object.entries(obj(v[kind]) ?? {})) {
      if (kind === 'bind' && k === 'create_host_path' && value !== false) continue;
      say(`${at}.${kind}.${k}`, `not honoured: berth mounts ${v.type === 'bind' ? 'the host path' : 'the volume'} at the target with its defaults`);
    }
  }
}

/** Keys of a top-level volume berth honours: the rest (driver, driver_opts, labels) are named, as the node's engine makes the volume with its local driver. */
const VOLUME_HONOURED = new Set(['name', 'external']);

/** Warnings for the top-level `volumes` keys berth does not pass to the node's engine, each by name. */
export function volumeWarnings(ctx: MapContext): void {
  for (const [volume, def] of Object.entries(ctx.project.volumes)) {
    for (const k of Object.keys(obj(def) ?? {})) {
      if (VOLUME_HONOURED.has(k) || k.startsWith('x-')) continue;
      ctx.warnings.push({ path: `volumes.${volume}.${k}`, message: "not honoured: the node's engine creates the volume with its local driver and no options when a task first mounts it" });
    }
  }
}

/** A tmpfs volume's `size` (bytes or a Docker size) and `mode` (octal) as mount options. */
function tmpfsEntry(target: string, o: Obj | undefined, at: string, ctx: MapContext): string {
  const opts: string[] = [];
  if (o?.size !== undefined) opts.push(`size=${String(o.size)}`);
  if (typeof o?.mode === 'number') opts.push(`mode=${o.mode.toString(8)}`);
  for (const k of Object.keys(o ?? {})) if (k !== 'size' && k !== 'mode') ctx.warnings.push({ path: `${at}.${k}`, message: 'not honoured: berth passes size and mode' });
  return opts.length > 0 ? `${target}:${opts.join(',')}` : target;
}

function volumeName(source: unknown, target: string, ctx: MapContext & { service: string }): string {
  if (source === undefined || source === null || source === '') {
    return `${ctx.project.name}_${berthName(ctx.service)}_${createHash('sha256').update(target).digest('hex').slice(0, 12)}`;
  }
  const def = obj(ctx.project.volumes[String(source)]);
  if (def?.external === true) return typeof def.name === 'string' ? def.name : String(source);
  return typeof def?.name === 'string' ? def.name : `${ctx.project.name}_${String(source)}`;
}

/**
 * Handlebars would read `{{` in a secret as a template: escaped, the content is written as it is.
 * An empty file is a Handlebars comment, which renders as nothing (a template's text may not be empty).
 */
function literal(text: string): string {
  return text === '' ? '{{!-- empty --}}' : text.replace(/\{\{/g, '\\{{');
}

/**
 * `secrets` and `configs` (file, environment, content) as templates rendered into the task's
 * `secrets/` and `local/` directories (named after their source) and bound, read-only, at
 * Compose's paths: `/run/secrets/<name>` (a relative target under /run/secrets), a config at its
 * target or `/<name>`.
 */
export function fileTemplates(svc: Obj, at: string, ctx: MapContext): { templates: Obj[]; binds: string[] } {
  const templates: Obj[] = [];
  const binds: string[] = [];
  for (const kind of ['secrets', 'configs'] as const) {
    for (const [i, ref] of ((svc[kind] as Obj[] | undefined) ?? []).entries()) {
      const source = String(ref.source);
      const def = obj(kind === 'secrets' ? ctx.project.secrets[source] : ctx.project.configs[source]);
      const path = `${at}.${kind}[${i}]`;
      const content = fileContent(def, `${kind}.${source}`, ctx);
      if (content === undefined) continue;
      const given = ref.target === undefined ? undefined : String(ref.target);
      const target = kind === 'secrets' ? (given?.startsWith('/') ? given : `/run/secrets/${given ?? source}`) : (given ?? `/${source}`);
      const file = `${kind === 'secrets' ? 'secrets' : 'local'}/${berthName(source) || 'file'}`;
      templates.push({ data: literal(content), destination: file, change_mode: 'restart' });
      binds.push(`${file}:${target}:ro`);
      for (const k of ['uid', 'gid', 'mode'] as const) if (ref[k] !== undefined) ctx.warnings.push({ path: `${path}.${k}`, message: 'not honoured: the file belongs to the task user' });
    }
  }
  return { templates, binds };
}

function fileContent(def: Obj | undefined, path: string, ctx: MapContext): string | undefined {
  if (!def) {
    ctx.problems.push({ path, message: 'is used by a service but not defined at the top level' });
    return undefined;
  }
  if (typeof def.content === 'string') return def.content;
  if (typeof def.environment === 'string') {
    const v = ctx.project.environment[def.environment];
    if (v === undefined) ctx.problems.push({ path: `${path}.environment`, message: `variable ${def.environment} is not set; set it in the shell or the .env file` });
    return v;
  }
  if (typeof def.file === 'string') {
    const text = ctx.read(def.file);
    if (text === undefined) ctx.problems.push({ path: `${path}.file`, message: `${def.file}: no such file` });
    return text;
  }
  ctx.problems.push({ path, message: 'external secrets and configs are not honoured by berth: give file, environment or content' });
  return undefined;
}
