import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ServerPool } from '../../api/index.ts';
import { silentLogger, systemClock } from '../../lib/index.ts';
import type { CheckSpec, Job } from '../../model/index.ts';
import { mockAlloc, mockGroup, mockJob, mockTask } from '../../testing/index.ts';
import { startServiceChecks, type CheckedAlloc } from './service-checks.ts';

const check = (path: string): CheckSpec => ({ type: 'http', path, intervalMs: 60_000, timeoutMs: 500, successBeforePassing: 0, failuresBeforeCritical: 0 });

function version(v: number, apiPath: string, adminPath: string): Job {
  return mockJob({
    version: v,
    groups: [
      mockGroup({
        ports: [{ label: 'http' }],
        services: [{ name: 'api', portLabel: 'http', tags: [`v${v}`], meta: {}, addressMode: 'auto', checks: [check(apiPath)] }],
        tasks: [mockTask({ name: 't', services: [{ name: 'admin', portLabel: 'http', tags: [], meta: {}, addressMode: 'auto', checks: [check(adminPath)] }] })],
      }),
    ],
  });
}

describe('service checks after an in-place update', () => {
  it('keep the runner of a check that did not change, and replace the one that did', async (t) => {
    // The server the checks report to; it only has to answer.
    const server = http.createServer((_req, res) => res.end('null'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    t.after(() => server.close());
    const deps = { servers: new ServerPool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`), nodeAddress: '127.0.0.1', drivers: new Map(), clock: systemClock, logger: silentLogger() };
    const alloc = mockAlloc({ ports: [{ label: 'http', value: 1, to: 1 }] });
    const runner: CheckedAlloc & { job: Job } = { alloc, job: version(0, '/api', '/admin'), handle: () => undefined, taskNames: () => ['t'] };

    const first = startServiceChecks(runner, deps)!;
    t.after(() => first.stop());
    const before = [...first.runners.values()];
    assert.equal(before.length, 2);

    // Tags changed on both services, the admin check's path on the task service.
    runner.job = version(1, '/api', '/admin/health');
    const second = startServiceChecks(runner, deps, first)!;
    t.after(() => second.stop());
    const after = [...second.runners.values()];
    assert.equal(after.length, 2);
    const kept = after.filter((r) => before.includes(r));
    assert.equal(kept.length, 1, 'the api check runs on, its status not started over');
    assert.equal([...second.runners.keys()].filter((k) => k.includes('/admin/health')).length, 1);
    assert.equal(first.runners.size, 0, 'the previous set handed over or stopped everything');
  });
});
