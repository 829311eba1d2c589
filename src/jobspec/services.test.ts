import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { validateJob } from './validate.ts';

function spec(group: object, task: object = {}): Record<string, unknown> {
  return { id: 'web', groups: [{ name: 'web', ports: [{ label: 'http' }], tasks: [{ name: 't', driver: 'docker', config: { image: 'busybox' }, ...task }], ...group }] };
}

function problems(input: unknown): string[] {
  const r = validateJob(input);
  assert.ok(!r.ok, 'expected problems');
  return r.errors.map((e) => `${e.path}: ${e.message}`);
}

describe('jobspec services', () => {
  test('a group service with checks gets Consul-like defaults', () => {
    const r = validateJob(
      spec({
        services: [
          {
            name: 'web',
            port: 'http',
            tags: ['v1'],
            meta: { version: 2 },
            checks: [
              { type: 'http', path: '/health', interval: '5s', expected_status: '200-399', header: { 'X-A': 'b' } },
              { type: 'tcp', failures_before_critical: 2, check_restart: { limit: 3, grace: '10s' } },
              { type: 'ttl', ttl: '30s' },
              { type: 'script', command: '/bin/check', args: ['-q'] },
              { type: 'grpc', grpc_service: 'api' },
            ],
          },
        ],
      }),
    );
    assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.errors));
    const [svc] = r.job.groups[0].services!;
    assert.equal(svc.name, 'web');
    assert.equal(svc.portLabel, 'http');
    assert.deepEqual(svc.meta, { version: '2' });
    assert.equal(svc.addressMode, 'auto');
    const [http, tcp, ttl, script, grpc] = svc.checks;
    assert.deepEqual(
      { type: http.type, path: http.path, method: http.method, intervalMs: http.intervalMs, timeoutMs: http.timeoutMs, expect: http.expectStatus, headers: http.headers },
      { type: 'http', path: '/health', method: 'GET', intervalMs: 5000, timeoutMs: 2000, expect: { min: 200, max: 399 }, headers: { 'X-A': ['b'] } },
    );
    assert.equal(tcp.failuresBeforeCritical, 2);
    assert.deepEqual(tcp.checkRestart, { limit: 3, graceMs: 10_000 });
    assert.equal(ttl.ttlMs, 30_000);
    assert.deepEqual([script.command, script.args], ['/bin/check', ['-q']]);
    assert.equal(grpc.grpcService, 'api');
  });

  test('address_mode driver is refused on a process task, which has no address of its own', () => {
    const process = { driver: 'process', config: { command: '/bin/httpd' } };
    assert.deepEqual(problems(spec({}, { ...process, services: [{ name: 'side', port: 'http', address_mode: 'driver' }] })), [
      'groups[0].tasks[0].services[0].address_mode: the process driver gives a task no address of its own: use host or auto, or run the task with driver: docker',
    ]);
    assert.ok(validateJob(spec({}, { ...process, services: [{ name: 'side', port: 'http', address_mode: 'auto' }] })).ok);
    assert.ok(validateJob(spec({}, { services: [{ name: 'side', port: 'http', address_mode: 'driver' }] })).ok, 'docker tasks may');
  });

  test('task services are read too, and a spec without services has none', () => {
    const r = validateJob(spec({}, { services: [{ name: 'side' }] }));
    assert.ok(r.ok);
    assert.equal(r.job.groups[0].tasks[0].services?.[0].name, 'side');
    assert.ok(problems(spec({}, { services: [{ name: 'side', port: 'grpc' }] })).some((p) => p.startsWith('groups[0].tasks[0].services[0]: no port labelled "grpc"')));
    const plain = validateJob(spec({}));
    assert.ok(plain.ok);
    assert.equal(plain.job.groups[0].services, undefined);
  });

  test('every problem is reported at its path', () => {
    const found = problems(
      spec({
        services: [
          { name: 'Bad_Name', port: 'nope', checks: [{ type: 'htp' }, { type: 'ttl' }, { type: 'tcp' }, { type: 'http', path: 'x', expected_status: 'abc' }] },
          { name: 'ok', checks: [{ type: 'tcp' }] },
        ],
      }),
    );
    const want = [
      'groups[0].services[0].name',
      'groups[0].services[0].port',
      'groups[0].services[0].checks[0].type',
      'groups[0].services[0].checks[1].ttl',
      'groups[0].services[0].checks[3].path',
      'groups[0].services[0].checks[3].expected_status',
      'groups[0].services[1].checks',
    ];
    for (const path of want) assert.ok(found.some((p) => p.startsWith(`${path}:`)), `a problem at ${path} in:\n${found.join('\n')}`);
  });
});
