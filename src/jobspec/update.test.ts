import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseJobSpec } from './parse.ts';

const spec = (jobUpdate: string, groupUpdate = '', type = 'service'): string =>
  [`id: web`, `type: ${type}`, jobUpdate, 'groups:', '  - name: web', groupUpdate, '    tasks:', '      - name: t', '        driver: process', '        config: {command: /bin/true}', ''].filter(Boolean).join('\n');

describe('jobspec: update block', () => {
  it("merges the group's fields over the job's over Nomad's defaults", () => {
    const r = parseJobSpec(spec('update: {max_parallel: 2, auto_revert: true, canary: 1}', '    update: {max_parallel: 3, min_healthy_time: 2s}'));
    assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
    assert.deepEqual(r.job.groups[0].update, {
      maxParallel: 3,
      healthCheck: 'checks',
      minHealthyTimeMs: 2_000,
      healthyDeadlineMs: 300_000,
      progressDeadlineMs: 600_000,
      autoRevert: true,
      canary: 1,
      autoPromote: false,
      staggerMs: 30_000,
    });
  });

  it('leaves groups without a block alone, and reports bad fields with their paths', () => {
    const none = parseJobSpec(spec(''));
    assert.ok(none.ok);
    assert.equal(none.job.groups[0].update, undefined);
    const bad = parseJobSpec(spec('update: {health_check: tcp, min_healthy_time: 1m, healthy_deadline: 30s, auto_promote: true}'));
    assert.ok(!bad.ok);
    const messages = bad.errors.map((e) => `${e.path}: ${e.message}`).join('\n');
    assert.match(messages, /update.health_check: .*one of checks, task_states, manual/);
    assert.match(messages, /healthy_deadline .* must be longer than min_healthy_time/);
    assert.match(messages, /auto_promote needs canary > 0/);
    const batch = parseJobSpec(spec('update: {max_parallel: 1}', '', 'batch'));
    assert.ok(!batch.ok);
    assert.match(batch.errors[0].message, /only service and system jobs/);
  });

  it('gives system jobs max_parallel and stagger, and refuses the fields of deployments', () => {
    const sys = parseJobSpec(spec('update: {max_parallel: 2}', '    update: {stagger: 5s}', 'system'));
    assert.ok(sys.ok, JSON.stringify(!sys.ok && sys.errors));
    assert.equal(sys.job.groups[0].update?.maxParallel, 2);
    assert.equal(sys.job.groups[0].update?.staggerMs, 5_000);
    const canary = parseJobSpec(spec('update: {max_parallel: 1, canary: 1}', '    update: {auto_revert: true}', 'system'));
    assert.ok(!canary.ok);
    assert.deepEqual(
      canary.errors.map((e) => `${e.path}: ${e.message}`),
      ['groups[0].update: system jobs have no deployment, so only max_parallel and stagger apply: remove canary, auto_revert from the update block'],
    );
  });
});
