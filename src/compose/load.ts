/**
 * Reading a Compose project as the Compose Specification defines it: file discovery, `.env` and
 * `--env-file`, interpolation, the schema check of each file, merging several files, `extends`,
 * `profiles`, and the project name. Reads files through `read` (the CLI passes the file system),
 * and decides nothing about berth: that is map.ts.
 */
import path from 'node:path';
import { parseDocument } from 'yaml';
import { parse as parseDotenv } from 'dotenv';
import { interpolateString, interpolateTree, type InterpolationProblem } from './interpolate.ts';
import { mergeFiles, mergeService } from './merge.ts';
import { normalizeFile } from './normalize.ts';
import { checkSchema } from './schema.ts';
import { COMPOSE_TAGS, isMap, untag } from './tags.ts';
import type { ComposeProblem, ComposeProject, ComposeService, ComposeWarning, LoadResult } from './types.ts';

type Obj = Record<string, unknown>;

/** File access: the text of a file, or undefined when there is none. */
export type ReadFile = (file: string) => string | undefined;

export interface LoadOptions {
  /** Where the command runs; discovery starts here. */
  cwd: string;
  /** How files are read. */
  read: ReadFile;
  /** `-f` files in order; absent: COMPOSE_FILE, then discovery from `cwd` upwards. */
  files?: string[];
  /** `-p`; absent: COMPOSE_PROJECT_NAME, the top-level `name`, the directory's name. */
  projectName?: string;
  /** `--project-directory`; absent: the first file's directory. */
  projectDirectory?: string;
  /** `--env-file` files; absent: `.env` in the project directory, if there is one. */
  envFiles?: string[];
  /** `--profile` names (COMPOSE_PROFILES adds to them). */
  profiles?: string[];
  /** Services named on the command line: enabled whatever their profiles, as in Compose. */
  services?: string[];
  /** The shell's environment; it wins over the .env file's. */
  environment: Record<string, string | undefined>;
}

/** The names Compose looks for, in its order of preference, and the override files read after them. */
export const DEFAULT_FILES = ['compose.yaml', 'compose.yml', 'docker-compose.yml', 'docker-compose.yaml'];
const OVERRIDE_FILES = ['compose.override.yaml', 'compose.override.yml', 'docker-compose.override.yml', 'docker-compose.override.yaml'];

/** The Compose files of the nearest directory from `cwd` upwards that has one, with its override file. */
export function discoverFiles(cwd: string, exists: (file: string) => boolean): string[] | undefined {
  for (let dir = path.resolve(cwd); ; dir = path.dirname(dir)) {
    const main = DEFAULT_FILES.map((f) => path.join(dir, f)).find(exists);
    if (main) {
      const override = OVERRIDE_FILES.map((f) => path.join(dir, f)).find(exists);
      return override ? [main, override] : [main];
    }
    if (path.dirname(dir) === dir) return undefined;
  }
}

/** A project name as Compose makes one: lowercase, only letters, digits, `-` and `_`, starting with a letter or digit. */
export function normalizeProjectName(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9_-]/g, '').replace(/^[^a-z0-9]+/, '');
}

/**
 * The project name: one given (-p, COMPOSE_PROJECT_NAME, the top-level `name:`) must be valid as
 * it is, as Compose has it; the directory's name is made valid.
 */
function projectName(o: LoadOptions, env: Record<string, string>, merged: Obj, workingDir: string, problems: ComposeProblem[]): string {
  const given: [string, string] | undefined = o.projectName !== undefined ? ['-p', o.projectName]
    : env.COMPOSE_PROJECT_NAME !== undefined ? ['COMPOSE_PROJECT_NAME', env.COMPOSE_PROJECT_NAME]
    : typeof merged.name === 'string' ? ['name', merged.name] : undefined;
  const name = normalizeProjectName(given?.[1] ?? path.basename(workingDir));
  if (given && name !== given[1]) {
    problems.push({ path: given[0], message: `invalid project name "${given[1]}": use only lowercase letters, digits, - and _, starting with a letter or digit${name ? ` (such as "${name}")` : ''}` });
  } else if (!name) problems.push({ path: 'name', message: `the directory name "${path.basename(workingDir)}" makes no project name (lowercase letters, digits, - and _); pass one with -p` });
  return name;
}

/** The variables of the env files (later ones win), under the shell's. */
function readEnvironment(o: LoadOptions, projectDir: string, problems: ComposeProblem[]): Record<string, string> {
  const fromFiles: Record<string, string> = {};
  const files = o.envFiles ?? [path.join(projectDir, '.env')];
  for (const f of files) {
    const file = path.resolve(o.cwd, f);
    const text = o.read(file);
    if (text === undefined) {
      if (o.envFiles) problems.push({ path: file, message: `env file not found; check the --env-file path` });
      continue;
    }
    // Values may use variables set above them or in the shell, as Compose's .env files do.
    const interp: InterpolationProblem[] = [];
    for (const [k, v] of Object.entries(parseDotenv(text))) {
      fromFiles[k] = interpolateString(v, (n) => o.environment[n] ?? fromFiles[n], { path: `${file}: ${k}`, problems: interp });
    }
    for (const p of interp) problems.push(p);
  }
  const shell = Object.fromEntries(Object.entries(o.environment).filter((e): e is [string, string] => e[1] !== undefined));
  return { ...fromFiles, ...shell };
}

/** One file read: YAML with Compose's tags and merge keys, interpolated, checked against the schema, in long forms. */
export function readComposeFile(file: string, at: { read: ReadFile; env: Record<string, string>; problems: ComposeProblem[] }): Obj | undefined {
  const text = at.read(file);
  if (text === undefined) {
    at.problems.push({ path: file, message: 'no such file; check the -f path' });
    return undefined;
  }
  const doc = parseDocument(text, { customTags: COMPOSE_TAGS, merge: true, uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    // The first few: one slip in YAML makes the parser report every token after it.
    for (const e of doc.errors.slice(0, 3)) at.problems.push({ path: `${file}:${e.linePos?.[0].line ?? '?'}:${e.linePos?.[0].col ?? '?'}`, message: e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '') });
    return undefined;
  }
  const raw: unknown = doc.toJS({ maxAliasCount: 1000 }) ?? {};
  if (!isMap(raw)) {
    at.problems.push({ path: file, message: 'a Compose file is a mapping (services:, networks:, ...), not a list or a scalar' });
    return undefined;
  }
  const interp: InterpolationProblem[] = [];
  const value = interpolateTree(raw, (n) => at.env[n], { path: '', problems: interp }) as Obj;
  for (const p of interp) at.problems.push({ path: `${file}: ${p.path}`, message: p.message });
  for (const p of checkSchema(untag(value))) at.problems.push({ path: `${file}: ${p.path}`, message: p.message });
  return normalizeFile(value, path.dirname(file));
}

/** `extends` resolved for every service: the base (from this model or another file) merged under it. */
function resolveExtends(services: Obj, at: { read: ReadFile; env: Record<string, string>; problems: ComposeProblem[] }): Obj {
  const done = new Map<string, Obj>();
  const resolve = (name: string, pool: Obj, chain: string[]): Obj | undefined => {
    const svc = pool[name];
    if (!isMap(svc)) return undefined;
    if (!isMap(svc.extends)) return svc;
    const ext = svc.extends as { service: string; file?: string };
    const id = `${ext.file ?? ''}#${ext.service}`;
    if (chain.includes(id)) {
      at.problems.push({ path: `services.${name}.extends`, message: `extends cycle: ${[...chain, id].map((c) => c.split('#')[1]).join(' -> ')}` });
      return undefined;
    }
    let basePool = pool;
    if (ext.file) {
      const file = readComposeFile(ext.file, at);
      if (!file) return undefined;
      basePool = isMap(file.services) ? file.services : {};
    }
    if (!isMap(basePool[ext.service])) {
      at.problems.push({ path: `services.${name}.extends.service`, message: `no service "${ext.service}" ${ext.file ? `in ${ext.file}` : 'in the project'} to extend` });
      return undefined;
    }
    const base = done.get(id) ?? resolve(ext.service, basePool, [...chain, id]);
    if (!base) return undefined;
    done.set(id, base);
    // What a service never inherits (05-services.md, extends): its dependencies on other services.
    const { depends_on: _d, links: _l, volumes_from: _v, ...inherited } = base;
    const { extends: _e, ...own } = svc;
    return mergeService(inherited, own);
  };
  const out: Obj = {};
  for (const name of Object.keys(services)) {
    const r = resolve(name, services, []);
    if (r) out[name] = r;
  }
  return out;
}

/** The services of the active profiles (and those named on the command line); a needed service left out is a problem. */
function applyProfiles(services: Record<string, ComposeService>, active: Set<string>, named: string[], problems: ComposeProblem[]): Record<string, ComposeService> {
  const on = (name: string, svc: ComposeService): boolean => {
    const profiles = svc.profiles ?? [];
    return profiles.length === 0 || named.includes(name) || active.has('*') || profiles.some((p) => active.has(p));
  };
  const out = Object.fromEntries(Object.entries(services).filter(([n, s]) => on(n, s)));
  for (const [name, svc] of Object.entries(out)) {
    for (const [dep, d] of Object.entries(svc.depends_on ?? {})) {
      if (out[dep]) continue;
      if (d.required === false) continue;
      const why = services[dep] ? `it is in profiles ${(services[dep].profiles ?? []).join(', ')}, none of them active; add --profile ${(services[dep].profiles ?? [])[0]}` : 'there is no such service';
      problems.push({ path: `services.${name}.depends_on.${dep}`, message: `depends on "${dep}", but ${why}` });
    }
  }
  return out;
}

/** The files to read: -f, else COMPOSE_FILE, else discovery. */
function composeFiles(o: LoadOptions, problems: ComposeProblem[]): string[] {
  if (o.files && o.files.length > 0) return o.files.map((f) => path.resolve(o.cwd, f));
  const fromEnv = o.environment.COMPOSE_FILE;
  if (fromEnv) return fromEnv.split(o.environment.COMPOSE_PATH_SEPARATOR ?? path.delimiter).map((f) => path.resolve(o.cwd, f));
  const found = discoverFiles(o.cwd, (f) => o.read(f) !== undefined);
  if (!found) problems.push({ path: o.cwd, message: `no Compose file here or in a parent directory (looked for ${DEFAULT_FILES.join(', ')}); pass one with -f` });
  return found ?? [];
}

/** Reads, merges and resolves a project; every problem found is reported, with its file and path. */
export function loadProject(o: LoadOptions): LoadResult {
  const problems: ComposeProblem[] = [];
  const files = composeFiles(o, problems);
  if (files.length === 0) return { ok: false, problems };
  const workingDir = o.projectDirectory ? path.resolve(o.cwd, o.projectDirectory) : path.dirname(files[0]);
  const env = readEnvironment(o, workingDir, problems);
  const at = { read: o.read, env, problems };
  const read = files.map((f) => readComposeFile(f, at)).filter((f): f is Obj => f !== undefined);
  if (problems.length > 0) return { ok: false, problems };
  const merged = mergeFiles(read);
  const services = resolveExtends(isMap(merged.services) ? merged.services : {}, at) as Record<string, ComposeService>;
  const active = new Set([...(o.profiles ?? []), ...(env.COMPOSE_PROFILES ?? '').split(',').filter(Boolean)]);
  const enabled = applyProfiles(services, active, o.services ?? [], problems);
  const name = projectName(o, env, merged, workingDir, problems);
  for (const s of o.services ?? []) if (!services[s]) problems.push({ path: `services.${s}`, message: `no service "${s}" in the project (services: ${Object.keys(services).join(', ')})` });
  if (problems.length > 0) return { ok: false, problems };
  const extensions = Object.fromEntries(Object.entries(merged).filter(([k]) => k.startsWith('x-')));
  const section = (k: string): Obj => (isMap(merged[k]) ? merged[k] : {});
  const project: ComposeProject = {
    name, workingDir, files, services: enabled, extensions, environment: env,
    networks: section('networks'), volumes: section('volumes'), secrets: section('secrets'), configs: section('configs'),
  };
  const warnings: ComposeWarning[] = [];
  if (merged.version !== undefined) warnings.push({ path: 'version', message: 'is obsolete and ignored (as in the Compose Specification)' });
  if (merged.include !== undefined) warnings.push({ path: 'include', message: 'is not read by berth yet: merge the included files with -f instead' });
  return { ok: true, project, warnings };
}
