import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { validateJob } from './validate.ts';

function spec(group: object, task: object = {}): Record<string, unknown> {
  return { id: 'web', groups: [{ name: 'web', ports: [{ label: 'http', static: 8080 }], tasks: [{ name: 't', driver: 'process', config: { command: '/bin/true' }, ...task }], ...group }] };
}

function problems(input: unknown): string[] {
  const r = validateJob(input);
  assert.ok(!r.ok, 'expected problems');
  return r.errors.map((e) => `${e.path}: ${e.message}`);
}

describe('jobspec upstreams', () => {
  test('an upstream gets the documented defaults', () => {
    const r = validateJob(spec({ upstreams: [{ service: 'db', local_bind_port: 5432 }] }));
    assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.errors));
    assert.deepEqual(r.job.groups[0].upstreams, [
      { service: 'db', localBindPort: 5432, policy: 'round-robin', connectTimeoutMs: 5000, retries: 2, outlier: { consecutiveFailures: 5, baseEjectionMs: 30_000, maxEjectionMs: 300_000 } },
    ]);
  });

  test('every field of a task upstream is read', () => {
    const upstream = { service: 'cache', local_bind_port: 6379, datacenter: 'dc2', policy: 'least_connections', connect_timeout: '250ms', retries: 0, outlier: { consecutive_failures: 2, base_ejection_time: '5s', max_ejection_time: '1m' } };
    const r = validateJob(spec({}, { upstreams: [upstream] }));
    assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.errors));
    assert.deepEqual(r.job.groups[0].tasks[0].upstreams, [
      { service: 'cache', localBindPort: 6379, datacenter: 'dc2', policy: 'least-connections', connectTimeoutMs: 250, retries: 0, outlier: { consecutiveFailures: 2, baseEjectionMs: 5000, maxEjectionMs: 60_000 } },
    ]);
  });

  test('an upstream naming a service no job registers is accepted', () => {
    assert.ok(validateJob(spec({ upstreams: [{ service: 'not-yet', local_bind_port: 9000 }] })).ok);
  });

  test('a local_bind_port claimed twice in a group is refused with both places and the fix', () => {
    const errors = problems(spec({ upstreams: [{ service: 'db', local_bind_port: 5432 }] }, { upstreams: [{ service: 'db2', local_bind_port: 5432 }] }));
    assert.deepEqual(errors, ['groups[0].tasks[0].upstreams[0].local_bind_port: port 5432 is already taken by the upstream at groups[0].upstreams[0].local_bind_port in this group; pick another local_bind_port']);
  });

  test('a local_bind_port on a static port of the group is refused', () => {
    const errors = problems(spec({ upstreams: [{ service: 'db', local_bind_port: 8080 }] }));
    assert.match(errors[0], /^groups\[0\]\.upstreams\[0\]\.local_bind_port: port 8080 is already taken by the group's static port "http"/);
  });

  test('bad fields are reported at their paths', () => {
    const errors = problems(spec({ upstreams: [{ service: 'DB!', policy: 'random', outlier: { base_ejection_time: '1m', max_ejection_time: '1s' } }] }));
    assert.ok(errors.some((e) => e.startsWith('groups[0].upstreams[0].service:')), errors.join('\n'));
    assert.ok(errors.some((e) => e.startsWith('groups[0].upstreams[0].local_bind_port: required')), errors.join('\n'));
    assert.ok(errors.some((e) => e.startsWith('groups[0].upstreams[0].policy:')), errors.join('\n'));
    assert.ok(errors.some((e) => e.startsWith('groups[0].upstreams[0].outlier.max_ejection_time:')), errors.join('\n'));
  });
});
