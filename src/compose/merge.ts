/**
 * Merging Compose files and `extends` by the spec's rules (13-merge.md), on files already in long
 * form (normalize.ts): mappings merge key by key, sequences append, `command`, `entrypoint` and
 * `healthcheck.test` are replaced, `volumes`, `secrets` and `configs` are unique by target and
 * `ports` by {host_ip, target, published, protocol}; `!reset` clears and `!override` replaces.
 */
import { Tagged, isMap, untag } from './tags.ts';

type Obj = Record<string, unknown>;

/** Keys (as dotted paths below a service) whose later value replaces the earlier one. */
const REPLACED = new Set(['command', 'entrypoint', 'healthcheck.test']);

/** The unique key of an entry of these sequences; an entry with the key of an earlier one merges into it. */
const UNIQUE: Record<string, (entry: Obj) => string> = {
  volumes: (e) => String(e.target),
  secrets: (e) => String(e.target ?? e.source),
  configs: (e) => String(e.target ?? e.source),
  ports: (e) => JSON.stringify([e.host_ip ?? '', e.target, e.published ?? '', e.protocol ?? 'tcp']),
};

/** `over` merged onto `base` at `key` (a dotted path below a service, for the exceptions above). */
export function mergeValue(base: unknown, over: unknown, key: string): unknown {
  if (over instanceof Tagged) return over.tag === 'reset' ? undefined : untag(over.value);
  if (base === undefined || base === null) return untag(over);
  if (REPLACED.has(key)) return untag(over);
  if (isMap(base) && isMap(over)) return mergeMaps(base, over, key);
  if (Array.isArray(base) && Array.isArray(over)) {
    const unique = UNIQUE[key];
    return unique ? mergeUnique(base as Obj[], untag(over) as Obj[], unique) : appendNew(base, untag(over) as unknown[]);
  }
  return untag(over);
}

function mergeMaps(base: Obj, over: Obj, key: string): Obj {
  const out: Obj = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const merged = mergeValue(base[k], v, key ? `${key}.${k}` : k);
    if (merged === undefined) delete out[k];
    else out[k] = merged;
  }
  return out;
}

function mergeUnique(base: Obj[], over: Obj[], unique: (e: Obj) => string): Obj[] {
  const out = [...base];
  for (const entry of over) {
    const at = out.findIndex((e) => unique(e) === unique(entry));
    if (at < 0) out.push(entry);
    else out[at] = { ...out[at], ...entry };
  }
  return out;
}

/** Appended, except values equal to one already there (a `dns` server listed in both files once). */
function appendNew(base: unknown[], over: unknown[]): unknown[] {
  const seen = new Set(base.map((v) => JSON.stringify(v)));
  return [...base, ...over.filter((v) => !seen.has(JSON.stringify(v)))];
}

/** One service of a later file onto the same service of an earlier one. */
export function mergeService(base: Obj, over: Obj): Obj {
  return mergeMaps(base, over, '');
}

/** Whole files, in order: services by name, top-level mappings key by key, other keys replaced. */
export function mergeFiles(files: Obj[]): Obj {
  let out: Obj = {};
  for (const file of files) {
    const next: Obj = { ...out };
    for (const [k, v] of Object.entries(file)) {
      if (k === 'services' && isMap(v)) {
        const services: Obj = { ...(isMap(out.services) ? out.services : {}) };
        for (const [name, svc] of Object.entries(v)) {
          const merged = mergeValue(services[name], svc, '');
          if (merged === undefined) delete services[name];
          else services[name] = merged;
        }
        next.services = services;
      } else {
        const merged = isMap(out[k]) && isMap(v) ? mergeMaps(out[k] as Obj, v, `~${k}`) : mergeValue(undefined, v, k);
        if (merged === undefined) delete next[k];
        else next[k] = merged;
      }
    }
    out = next;
  }
  return untag(out) as Obj;
}
