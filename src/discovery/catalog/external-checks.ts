/**
 * The http, tcp and grpc checks of external services (registered through
 * `/v1/agent/service/register` with `HTTP`, `TCP` or `GRPC`): the server that holds the
 * registration runs them, as the Consul agent it stands for would. TTL checks need no runner.
 */
import { CheckRunner } from '../checks/index.ts';
import type { CheckSpec } from '../../model/index.ts';
import type { StateView } from '../../state/index.ts';
import type { CatalogRegistry } from './registry.ts';

/** Keeps one runner per runnable external check, started and stopped as registrations come and go. */
export class ExternalChecks {
  readonly #view: StateView;
  readonly #registry: CatalogRegistry;
  readonly #runners = new Map<string, { runner: CheckRunner; spec: string }>();
  #unsubscribe: (() => void) | undefined;

  constructor(view: StateView, registry: CatalogRegistry) {
    this.#view = view;
    this.#registry = registry;
  }

  start(): void {
    this.#unsubscribe = this.#view.onChange((_rev, changes) => {
      if (changes.some((c) => c.table === 'services')) this.#sync();
    });
    this.#sync();
  }

  stop(): void {
    this.#unsubscribe?.();
    for (const { runner } of this.#runners.values()) runner.stop();
    this.#runners.clear();
  }

  #sync(): void {
    const wanted = new Map<string, CheckSpec>();
    for (const inst of this.#view.serviceInstances()) {
      if (inst.source.kind !== 'external' || inst.nodeName !== this.#registry.node.name) continue;
      for (const c of inst.checks) if (runnable(c.spec)) wanted.set(c.id, c.spec);
    }
    for (const [id, r] of this.#runners) {
      const spec = wanted.get(id);
      if (spec && JSON.stringify(spec) === r.spec) continue;
      r.runner.stop();
      this.#runners.delete(id);
    }
    for (const [id, spec] of wanted) {
      if (this.#runners.has(id)) continue;
      const runner = new CheckRunner({
        id,
        spec,
        target: { host: '', port: 0 },
        report: async (checkId, status, output) => void (await this.#registry.updateCheck(checkId, status, output)),
      });
      runner.start();
      this.#runners.set(id, { runner, spec: JSON.stringify(spec) });
    }
  }
}

function runnable(spec: CheckSpec): boolean {
  return (spec.type === 'http' && spec.url !== undefined) || ((spec.type === 'tcp' || spec.type === 'grpc') && spec.target !== undefined);
}

