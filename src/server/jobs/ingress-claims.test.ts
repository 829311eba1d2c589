import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { validateJob } from '../../jobspec/index.ts';
import { BerthError } from '../../model/index.ts';
import { MemoryBackend, SqliteBackend, StateStore, StateView, type StateBackend } from '../../state/index.ts';
import { systemClock } from '../../lib/index.ts';
import { JobService, type JobSpec } from './job-service.ts';

function job(id: string, service: string, ingress: object[]): JobSpec {
  const parsed = validateJob({
    id,
    groups: [{ name: 'g', count: 0, ports: [{ label: 'http' }], services: [{ name: service, port: 'http', ingress }], tasks: [{ name: 't', driver: 'process', config: { command: '/bin/true' } }] }],
  });
  assert.ok(parsed.ok, JSON.stringify(parsed));
  return parsed.job;
}

const backends: [string, (t: TestContext) => Promise<StateBackend>][] = [
  ['memory', async () => new MemoryBackend()],
  [
    'sqlite',
    async (t) => {
      const dir = await mkdtemp(path.join(tmpdir(), 'berth-claims-'));
      t.after(() => rm(dir, { recursive: true, force: true }));
      return SqliteBackend.open(path.join(dir, 'state.db'));
    },
  ],
];

async function service(t: TestContext, open: (t: TestContext) => Promise<StateBackend>): Promise<{ jobs: JobService; view: StateView }> {
  const backend = await open(t);
  const view = await StateView.open(backend);
  t.after(async () => {
    view.close();
    await backend.close();
  });
  return { jobs: new JobService({ view, store: new StateStore(backend, view), clock: systemClock }), view };
}

for (const [name, open] of backends) {
  describe(`ingress claims across jobs (${name} backend)`, () => {
    it('of two jobs that claim one host and path at once, exactly one is registered; the other is refused with the path and the fix', async (t) => {
      const { jobs, view } = await service(t, open);
      for (let round = 0; round < 5; round++) {
        const [a, b] = [`a${round}`, `b${round}`];
        const host = `r${round}.example`;
        // Registered first without routes, so that their services have their addresses and
        // nothing but the route is claimed in the racing txns.
        await Promise.all([jobs.register(job(a, a, [])), jobs.register(job(b, b, []))]);
        const results = await Promise.allSettled([jobs.register(job(a, a, [{ host, path: '/api' }])), jobs.register(job(b, b, [{ host, path: '/api' }]))]);
        const won = results.filter((r) => r.status === 'fulfilled');
        const lost = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
        assert.equal(won.length, 1, `round ${round}: exactly one registration wins (${JSON.stringify(results.map((r) => r.status))})`);
        const err = lost[0];
        assert.ok(err instanceof BerthError && err.code === 'invalid_input', String(err));
        assert.equal(err.details?.[0].path, 'groups[0].services[0].ingress[0]');
        assert.match(err.message, new RegExp(`host "${host.replace('.', '\\.')}" path "/api" is already routed to service "(a|b)${round}" of job "(a|b)${round}"; give this route another host, path or port, or stop job`));
        assert.equal([a, b].filter((id) => view.job(id)!.version === 1).length, 1, 'the refused version is not written');
      }
    });

    it('two jobs of one service may share a TCP port at once; a stopped job frees its claim for another service', async (t) => {
      const { jobs, view } = await service(t, open);
      await Promise.all([jobs.register(job('w1', 'web', [{ port: 9000 }])), jobs.register(job('w2', 'web', [{ port: 9000 }]))]);
      assert.deepEqual(view.ingressClaims(), [{ key: 'tcp 9000', service: 'web', jobs: ['w1', 'w2'] }]);
      await assert.rejects(jobs.register(job('db', 'db', [{ port: 9000 }])), /TCP port 9000 is already routed to service "web"/);
      await jobs.stop('w1', false);
      await jobs.stop('w2', true);
      assert.deepEqual(view.ingressClaims(), []);
      await jobs.register(job('db', 'db', [{ port: 9000 }]));
      // A route the job no longer has is released by its next version.
      await jobs.register(job('db', 'db', [{ port: 9001 }]));
      assert.deepEqual(view.ingressClaims().map((c) => c.key), ['tcp 9001']);
    });
  });
}
