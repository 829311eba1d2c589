/**
 * Templates (consul-template's role): render a task's files or env from KV keys and healthy service
 * instances with Handlebars, and render again when what a template read changes, through one
 * blocking query per dependency. `{{key "cfg/x"}}`, `{{keyOrDefault "cfg/x" "d"}}`,
 * `{{#each (tree "cfg/")}}{{Key}}={{Value}}{{/each}}`, `{{#each (service "web")}}{{Address}}:{{Port}}{{/each}}`,
 * and variables, read with the allocation's workload token: `{{var "berth/jobs/web/db" "password"}}`.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import Handlebars from 'handlebars';
import { ServerPool } from '../../api/index.ts';
import type { TaskTemplate } from '../../model/index.ts';
import { systemClock, type Clock, type Timer } from '../../lib/index.ts';

/** A template as a task declares it (the model's TaskTemplate). */
export type TemplateSpec = TaskTemplate;

/** How long after a change renders wait for related changes. */
const RENDER_QUIET_MS = 50;

/** One dependency: a key, a key prefix, a service or a variable. */
type Dep = { kind: 'key' | 'tree' | 'service' | 'var'; name: string };
const depId = (d: Dep): string => `${d.kind}:${d.name}`;

/** What a `TemplateSet` is given. */
export interface TemplateSetOptions {
  /** The servers to read from (a URL, or a pool that fails over between several). */
  servers: ServerPool | string;
  specs: TemplateSpec[];
  taskDir: string;
  /** Called, after the splay, when a template's output changed after the first render. */
  onChange: (spec: TemplateSpec) => void;
  /** For the render quiet time, the splay and retries. Default: the wall clock. */
  clock?: Clock;
  /** The allocation's workload token, what `{{var ...}}` reads variables with (read when used: it may come after the first render). Default none. */
  workloadToken?: () => string | undefined;
}

/** Renders templates and follows their dependencies until stopped. */
export class TemplateSet {
  readonly #cache = new Map<string, unknown>();
  readonly #indexes = new Map<string, number>();
  readonly #watching = new Set<string>();
  readonly #outputs: string[] = [];
  readonly #stop = new AbortController();
  readonly #compiled: Handlebars.TemplateDelegate[];
  #deps = new Map<string, Dep>();
  #queue: Promise<void> = Promise.resolve();
  #pending: Timer | undefined;
  #env: Record<string, string> = {};

  readonly #servers: ServerPool;
  private readonly specs: TemplateSpec[];
  private readonly taskDir: string;
  private readonly onChange: (spec: TemplateSpec) => void;
  private readonly workloadToken: (() => string | undefined) | undefined;
  readonly #clock: Clock;

  constructor(options: TemplateSetOptions) {
    const { servers, specs } = options;
    this.#servers = typeof servers === 'string' ? new ServerPool(servers) : servers;
    this.specs = specs;
    this.taskDir = options.taskDir;
    this.onChange = options.onChange;
    this.workloadToken = options.workloadToken;
    this.#clock = options.clock ?? systemClock;
    this.#compiled = specs.map((s) => Handlebars.compile(s.data, { noEscape: true, strict: false }));
  }

  /**
   * Render every template (fetching what they read), write files, and put the env vars into
   * `env` (kept: re-renders update it too, so a restarted task gets the new values).
   */
  async render(env: Record<string, string> = {}): Promise<Record<string, string>> {
    this.#env = env;
    for (let pass = 0; pass < 5; pass++) {
      const before = this.#deps.size;
      this.specs.forEach((_, i) => this.#renderOne(i));
      await Promise.all([...this.#deps.values()].filter((d) => !this.#cache.has(depId(d))).map((d) => this.#fetch(d, 0)));
      if (this.#deps.size === before && [...this.#deps.keys()].every((k) => this.#cache.has(k))) break;
    }
    for (let i = 0; i < this.specs.length; i++) {
      const out = this.#renderOne(i);
      this.#outputs[i] = out;
      await this.#write(i, out, env);
    }
    for (const d of this.#deps.values()) this.#follow(d);
    return env;
  }

  /** Stop following dependencies. */
  stop(): void {
    this.#stop.abort();
    this.#pending?.cancel();
  }

  #renderOne(i: number): string {
    const helpers = {
      key: (name: string) => String(this.#use({ kind: 'key', name }) ?? ''),
      keyOrDefault: (name: string, dflt: string) => String(this.#use({ kind: 'key', name }) ?? dflt),
      tree: (name: string) => (this.#use({ kind: 'tree', name }) as unknown[]) ?? [],
      service: (name: string) => (this.#use({ kind: 'service', name }) as unknown[]) ?? [],
      var: (name: string, item: string) => String((this.#use({ kind: 'var', name }) as Record<string, string> | undefined)?.[item] ?? ''),
    };
    return this.#compiled[i]({}, { helpers });
  }

  #use(dep: Dep): unknown {
    this.#deps.set(depId(dep), dep);
    return this.#cache.get(depId(dep));
  }

  async #fetch(dep: Dep, index: number): Promise<void> {
    if (dep.kind === 'var') return this.#fetchVar(dep, index);
    const p = dep.kind === 'service' ? `/v1/health/service/${encodeURIComponent(dep.name)}?passing` : `/v1/kv/${dep.name}${dep.kind === 'tree' ? '?recurse' : ''}`;
    const sep = p.includes('?') ? '&' : '?';
    const res = await this.#servers.fetch(`${p}${index ? `${sep}index=${index}&wait=5m` : ''}`, { signal: this.#stop.signal });
    const text = await res.text();
    this.#indexes.set(depId(dep), Number(res.headers.get('x-consul-index') ?? 0));
    if (res.status === 404) return void this.#cache.set(depId(dep), dep.kind === 'key' ? undefined : []);
    if (!res.ok) throw new Error(`Cannot render a template: ${p} answered ${res.status}: ${text.slice(0, 200)}`);
    const body = JSON.parse(text) as Record<string, unknown>[];
    const decode = (v: unknown): string => (typeof v === 'string' ? Buffer.from(v, 'base64').toString('utf8') : '');
    if (dep.kind === 'key') this.#cache.set(depId(dep), decode(body[0]?.Value));
    else if (dep.kind === 'tree') this.#cache.set(depId(dep), body.map((e) => ({ Key: String(e.Key).slice(dep.name.length), Value: decode(e.Value) })));
    else {
      this.#cache.set(
        depId(dep),
        body.map((e) => {
          const s = e.Service as { ID: string; Address: string; Port: number; Tags: string[] };
          return { ID: s.ID, Address: s.Address || (e.Node as { Address: string }).Address, Port: s.Port, Tags: s.Tags };
        }),
      );
    }
  }

  /** A variable's items, by path; a missing variable renders its items empty. */
  async #fetchVar(dep: Dep, index: number): Promise<void> {
    const p = `/v1/var/${dep.name.split('/').map(encodeURIComponent).join('/')}${index ? `?index=${index}&wait=5m` : ''}`;
    // The workload token replaces the agent's own credentials: a task's template reads what its job may.
    const token = this.workloadToken?.();
    const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
    const res = await this.#servers.fetch(p, { signal: this.#stop.signal, headers });
    const text = await res.text();
    this.#indexes.set(depId(dep), Number(res.headers.get('x-berth-index') ?? 0));
    if (res.status === 404) return void this.#cache.set(depId(dep), {});
    if (!res.ok) throw new Error(`Cannot render a template: variable "${dep.name}" answered ${res.status}: ${text.slice(0, 200)}`);
    this.#cache.set(depId(dep), (JSON.parse(text) as { items: Record<string, string> }).items);
  }

  /** One blocking query loop per dependency; a change re-renders every template. */
  #follow(dep: Dep): void {
    const id = depId(dep);
    if (this.#watching.has(id)) return;
    this.#watching.add(id);
    void (async () => {
      while (!this.#stop.signal.aborted) {
        const before = JSON.stringify(this.#cache.get(id));
        try {
          await this.#fetch(dep, Math.max(1, this.#indexes.get(id) ?? 1));
        } catch {
          if (this.#stop.signal.aborted) return;
          await this.#clock.sleep(1000, this.#stop.signal).catch(() => undefined);
          continue;
        }
        if (JSON.stringify(this.#cache.get(id)) !== before) this.#schedule();
      }
    })();
  }

  /**
   * Several dependencies may see one write (a key and the tree above it): wait a moment (as
   * consul-template's `wait`) so they render once, and run renders one at a time.
   */
  #schedule(): void {
    if (this.#pending) return;
    this.#pending = this.#clock.setTimer(() => {
      this.#pending = undefined;
      this.#queue = this.#queue.then(() => this.#rerender()).catch(() => {});
    }, RENDER_QUIET_MS);
  }

  async #rerender(): Promise<void> {
    for (let i = 0; i < this.specs.length; i++) {
      const out = this.#renderOne(i);
      if (out === this.#outputs[i]) continue;
      this.#outputs[i] = out;
      await this.#write(i, out, this.#env);
      for (const d of this.#deps.values()) if (!this.#cache.has(depId(d))) await this.#fetch(d, 0).then(() => this.#follow(d));
      const spec = this.specs[i];
      const splay = Math.floor(Math.random() * (spec.splayMs ?? 0));
      this.#clock.setTimer(() => !this.#stop.signal.aborted && this.onChange(spec), splay);
    }
  }

  async #write(i: number, out: string, env: Record<string, string>): Promise<void> {
    const spec = this.specs[i];
    if (spec.env) {
      for (const line of out.split('\n')) {
        const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
        if (m) env[m[1]] = m[2];
      }
    }
    if (spec.destination) {
      const file = path.resolve(this.taskDir, spec.destination);
      await fs.mkdir(path.dirname(file), { recursive: true });
      // Write then rename, so the task never reads a half-written file.
      await fs.writeFile(`${file}.${process.pid}.tmp`, out);
      await fs.rename(`${file}.${process.pid}.tmp`, file);
    }
  }
}
