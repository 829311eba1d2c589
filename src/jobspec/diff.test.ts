import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mockGroup, mockJob, mockTask } from '../testing/index.ts';
import { diffJobs, formatDiff } from './diff.ts';
// The spec hash decides what the diff calls destructive: the two must agree.
import { specHash } from '../scheduler/index.ts';

describe('job diff', () => {
  const v1 = mockJob({ groups: [mockGroup({ name: 'web', count: 2, tasks: [mockTask({ name: 'app', config: { image: 'web:1' } })] })] });

  it('finds nothing between equal jobs, even at another version', () => {
    assert.equal(diffJobs(v1, { ...v1, version: 7, submitTime: 99 }).kind, 'none');
  });

  it('marks a count change in place and an image change destructive, naming the field', () => {
    const count = diffJobs(v1, { ...v1, groups: [{ ...v1.groups[0], count: 4 }] });
    assert.deepEqual(count.groups[0].fields, [{ kind: 'changed', path: 'count', old: 2, new: 4 }]);
    assert.deepEqual(count.groups[0].destructive, []);

    const image = diffJobs(v1, { ...v1, groups: [{ ...v1.groups[0], tasks: [mockTask({ name: 'app', config: { image: 'web:2' } })] }] });
    assert.deepEqual(image.groups[0].tasks[0].fields, [{ kind: 'changed', path: 'config.image', old: 'web:1', new: 'web:2' }]);
    assert.deepEqual(image.groups[0].destructive, ['tasks.app.config.image']);
    assert.ok(formatDiff(image).some((l) => l.includes('~ config.image: "web:1" => "web:2"')));
  });

  it('marks a task service change in place: services live in the catalog', () => {
    const svc = { name: 'web', portLabel: 'http', tags: ['v1'], meta: {}, addressMode: 'auto' as const, checks: [] };
    const withTags = (tags: string[]) => ({ ...v1, groups: [{ ...v1.groups[0], tasks: [mockTask({ name: 'app', config: { image: 'web:1' }, services: [{ ...svc, tags }] })] }] });
    const d = diffJobs(withTags(['v1']), withTags(['v2']));
    assert.equal(d.groups[0].tasks[0].fields[0].path, 'services');
    assert.deepEqual(d.groups[0].destructive, []);
  });

  it('marks an upstream change destructive, as the scheduler replaces the allocations: it is in their tasks\' environment', () => {
    const up = { service: 'db', localBindPort: 5432, policy: 'round-robin' as const, connectTimeoutMs: 5000, retries: 2, outlier: { consecutiveFailures: 5, baseEjectionMs: 30_000, maxEjectionMs: 300_000 } };
    const d = diffJobs(v1, { ...v1, groups: [{ ...v1.groups[0], upstreams: [up] }] });
    assert.deepEqual(d.groups[0].destructive, ['upstreams']);
    assert.notEqual(specHash(v1.groups[0]), specHash({ ...v1.groups[0], upstreams: [up] }));
  });

  it('reports added and removed groups and job fields', () => {
    const d = diffJobs(v1, { ...v1, meta: { team: 'a' }, groups: [mockGroup({ name: 'api' })] });
    assert.deepEqual(d.fields, [{ kind: 'added', path: 'meta.team', new: 'a' }]);
    assert.deepEqual(d.groups.map((g) => [g.name, g.kind]).sort(), [['api', 'added'], ['web', 'removed']]);
  });
});
