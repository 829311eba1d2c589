/**
 * One Compose file's services and top-level resources in the spec's long forms, so that files
 * merge key by key (13-merge.md) and the mapping reads one shape: `environment` and `labels` lists
 * become mappings, short `ports`, `volumes`, `secrets`, `configs` and `depends_on` their long
 * syntax, relative paths absolute against the file's directory.
 */
import path from 'node:path';
import { Tagged, isMap } from './tags.ts';

type Obj = Record<string, unknown>;

/** `KEY=VALUE` lists and mappings alike as a mapping of strings (null: take it from the shell, as Compose does). */
export function toStringMap(value: unknown, sep = '='): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  if (Array.isArray(value)) {
    for (const item of value) {
      const s = String(item);
      const at = s.indexOf(sep);
      if (at < 0) out[s] = null;
      else out[s.slice(0, at)] = s.slice(at + 1);
    }
  } else if (isMap(value)) {
    // A `!reset` or `!override` value stays a marker for the merge to read.
    for (const [k, v] of Object.entries(value)) out[k] = v === null || v === undefined ? null : v instanceof Tagged ? (v as unknown as string) : String(v);
  }
  return out;
}

/** Whether a short-syntax volume source is a host path rather than a volume's name. */
function isPath(source: string): boolean {
  return source.startsWith('/') || source.startsWith('.') || source.startsWith('~');
}

/** A host path relative to the file's directory made absolute (`~` stays: it is the node's home). */
function absolute(p: string, dir: string): string {
  return p.startsWith('~') || path.isAbsolute(p) ? p : path.resolve(dir, p);
}

/** `[HOST_IP:][PUBLISHED:]TARGET[/PROTOCOL]` as its long form. */
export function parsePort(value: unknown): Obj {
  if (isMap(value)) return { ...value };
  const s = String(value);
  const [addr, protocol] = s.split('/');
  // An IPv6 host address is written in brackets: [::1]:80:80.
  const v6 = /^\[([^\]]+)\]:(.*)$/.exec(addr);
  const parts = v6 ? [v6[1], ...v6[2].split(':')] : addr.split(':');
  const out: Obj = { target: num(parts[parts.length - 1]) };
  if (parts.length >= 2) out.published = parts[parts.length - 2];
  if (parts.length >= 3) out.host_ip = parts.slice(0, parts.length - 2).join(':');
  if (protocol) out.protocol = protocol;
  return out;
}

function num(s: string): number | string {
  return /^\d+$/.test(s) ? Number(s) : s;
}

/** `SOURCE:TARGET[:MODE]` or `TARGET` as its long form. */
function parseVolume(value: unknown, dir: string): Obj {
  if (isMap(value)) {
    const v = { ...value };
    if (v.type === 'bind' && typeof v.source === 'string') v.source = absolute(v.source, dir);
    return v;
  }
  const parts = String(value).split(':');
  if (parts.length === 1) return { type: 'volume', target: parts[0] };
  const [source, target, mode] = parts;
  const out: Obj = isPath(source) ? { type: 'bind', source: absolute(source, dir), target } : { type: 'volume', source, target };
  if (mode) {
    const modes = mode.split(',');
    if (modes.includes('ro')) out.read_only = true;
    const rest = modes.filter((m) => m !== 'ro' && m !== 'rw');
    if (rest.length > 0) out.mode = rest.join(',');
  }
  return out;
}

/** A service's keys in their long forms; keys it does not know are kept as they are. */
export function normalizeService(svc: Obj, dir: string): Obj {
  const s: Obj = { ...svc };
  const map = <T>(key: string, f: (v: unknown) => T): void => {
    const v = s[key];
    // `!override` replaces in long form too; a `!reset` value is dropped whatever it is.
    if (v instanceof Tagged) {
      if (v.tag === 'override' && v.value !== null && v.value !== undefined) s[key] = new Tagged('override', f(v.value));
    } else if (v !== undefined && v !== null) s[key] = f(v);
  };
  map('environment', (v) => toStringMap(v));
  map('labels', (v) => toStringMap(v));
  map('extra_hosts', (v) => (Array.isArray(v) ? toStringMap(v.map((h) => String(h).replace(/^([^:=]+):/, '$1=')), '=') : toStringMap(v)));
  map('env_file', (v) => (Array.isArray(v) ? v : [v]).map((f) => (isMap(f) ? { ...f, path: absolute(String(f.path), dir) } : { path: absolute(String(f), dir), required: true })));
  map('ports', (v) => (v as unknown[]).map(parsePort));
  map('expose', (v) => (v as unknown[]).map(String));
  map('volumes', (v) => (v as unknown[]).map((x) => parseVolume(x, dir)));
  map('secrets', (v) => (v as unknown[]).map((x) => (isMap(x) ? { ...x } : { source: String(x) })));
  map('configs', (v) => (v as unknown[]).map((x) => (isMap(x) ? { ...x } : { source: String(x) })));
  map('depends_on', (v) => (Array.isArray(v) ? Object.fromEntries(v.map((d) => [String(d), { condition: 'service_started', required: true }])) : v));
  map('networks', (v) => (Array.isArray(v) ? Object.fromEntries(v.map((n) => [String(n), null])) : v));
  for (const k of ['dns', 'dns_search', 'tmpfs', 'profiles']) map(k, (v) => (Array.isArray(v) ? v : [v]));
  map('build', (v) => (isMap(v) ? { ...v, context: absolute(String(v.context ?? '.'), dir) } : { context: absolute(String(v), dir) }));
  if (isMap(s.healthcheck) && typeof s.healthcheck.test === 'string') s.healthcheck = { ...s.healthcheck, test: ['CMD-SHELL', s.healthcheck.test] };
  if (typeof s.extends === 'string') s.extends = { service: s.extends };
  if (isMap(s.extends) && typeof s.extends.file === 'string') s.extends = { ...s.extends, file: absolute(s.extends.file, dir) };
  return s;
}

/** A file's top-level `secrets` and `configs`: their `file` paths made absolute. */
export function normalizeFiles(section: unknown, dir: string): unknown {
  if (!isMap(section)) return section;
  const out: Obj = {};
  for (const [name, def] of Object.entries(section)) {
    out[name] = isMap(def) && typeof def.file === 'string' ? { ...def, file: absolute(def.file, dir) } : def;
  }
  return out;
}

/** A whole parsed file in long forms. */
export function normalizeFile(file: Obj, dir: string): Obj {
  const out: Obj = { ...file };
  if (isMap(file.services)) {
    out.services = Object.fromEntries(Object.entries(file.services).map(([n, svc]) => [n, isMap(svc) ? normalizeService(svc, dir) : svc]));
  }
  out.secrets = normalizeFiles(file.secrets, dir);
  out.configs = normalizeFiles(file.configs, dir);
  for (const k of ['secrets', 'configs']) if (out[k] === undefined) delete out[k];
  return out;
}
