import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TaskDriver } from '../../drivers/index.ts';
import { silentLogger } from '../../lib/index.ts';
import type { DriverName } from '../../model/index.ts';
import { allocRunner, jobOf, until } from '../agent-fixture.test-helper.ts';
import type { AllocRunner } from '../allocs/alloc-runner.ts';
import { buildAgentApp } from './endpoint.ts';

describe("agent endpoint's logs", () => {
  it('follows a task into each instance it restarts in place, from that instance start, and ends when the task is over', async (t) => {
    // Prints its instance's line, runs 150 ms, exits 1; restarted twice, then over (mode fail).
    const job = jobOf([{ name: 'main', command: 'exit:1:150', config: { command: 'exit:1:150', args: ['out:hello'] } }], { restart: { attempts: 2, delayMs: 50 } });
    const { runner, alloc, drivers } = await allocRunner({ job });
    runner.start();
    t.after(() => runner.destroy());
    await until('the first instance', () => runner.handle('main') !== undefined);
    const app = await buildAgentApp(new Map<string, AllocRunner>([[alloc.id, runner]]), new Map<DriverName, TaskDriver>(drivers.map((d) => [d.name, d])), { logger: silentLogger() });
    t.after(() => app.close());
    const res = await app.inject({ method: 'GET', url: `/v1/client/allocations/${alloc.id}/logs?task=main&follow=true` });
    assert.equal(res.statusCode, 200);
    assert.equal(res.body, 'hello\nhello\nhello\n', 'each of the three instances once');
    assert.equal(runner.taskStates().main?.state, 'dead');
    // Not followed: what the current instance printed, and the stream ends at once.
    const now = await app.inject({ method: 'GET', url: `/v1/client/allocations/${alloc.id}/logs?task=main` });
    assert.equal(now.body, 'hello\n');
  });
});
