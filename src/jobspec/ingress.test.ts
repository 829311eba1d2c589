import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { validateJob } from './validate.ts';
import { ingressConflicts } from './ingress.ts';

function spec(services: object[], id = 'web'): Record<string, unknown> {
  return { id, groups: [{ name: 'g', ports: [{ label: 'http' }], tasks: [{ name: 't', driver: 'process', config: { command: '/bin/true' } }], services }] };
}

function problems(input: unknown): string[] {
  const r = validateJob(input);
  assert.ok(!r.ok, 'expected problems');
  return r.errors.map((e) => `${e.path}: ${e.message}`);
}

describe('jobspec ingress', () => {
  test('HTTP and TCP routes are read and normalised', () => {
    const r = validateJob(spec([{ name: 'web', port: 'http', ingress: [{ host: 'Web.Example.COM', path: '/api/' }, { path: '/' }, { port: 9000 }] }]));
    assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.errors));
    assert.deepEqual(r.job.groups[0].services![0].ingress, [{ host: 'web.example.com', path: '/api' }, { path: '/' }, { port: 9000 }]);
  });

  test('malformed hosts, paths and ports are refused with their paths', () => {
    const errors = problems(spec([{ name: 'web', port: 'http', ingress: [{ host: 'web.example.com:80' }, { host: 'bad host' }, { path: 'api' }, { path: '/a?b' }, { path: '/a/../b' }, { port: 70000 }, { port: 90, host: 'x' }, {}] }]));
    const at = (i: number): string | undefined => errors.find((e) => e.startsWith(`groups[0].services[0].ingress[${i}]`));
    assert.match(at(0)!, /has a port; give the name alone/);
    assert.match(at(1)!, /is not a host name/);
    assert.match(at(2)!, /is not a path prefix: start it with "\/"/);
    assert.match(at(3)!, /no spaces, "\?" or "#"/);
    assert.match(at(4)!, /"\.\." segment/);
    assert.match(at(5)!, /port/);
    assert.match(at(6)!, /a TCP route takes only a port/);
    assert.match(at(7)!, /needs host and\/or path \(HTTP\) or port \(TCP\)/);
  });

  test('a service without a port cannot have an ingress', () => {
    assert.match(problems(spec([{ name: 'web', ingress: [{ host: 'a.example' }] }])).join('\n'), /groups\[0\]\.services\[0\]\.ingress: .*set the service's port/);
  });

  test('two services of one job claiming one host and path are refused, naming both', () => {
    const errors = problems(spec([
      { name: 'web', port: 'http', ingress: [{ host: 'a.example', path: '/api/' }, { port: 9000 }] },
      { name: 'api', port: 'http', ingress: [{ host: 'A.example', path: '/api' }, { port: 9000 }] },
    ]));
    assert.deepEqual(errors, [
      'groups[0].services[1].ingress[0]: host "a.example" path "/api" is already routed to service "web" by groups[0].services[0].ingress[0]; give one of them another host, path or port',
      'groups[0].services[1].ingress[1]: TCP port 9000 is already routed to service "web" by groups[0].services[0].ingress[1]; give one of them another host, path or port',
    ]);
  });

  test('a route claimed by a service of another job is a conflict; the same service is not', () => {
    const mine = validateJob(spec([{ name: 'api', port: 'http', ingress: [{ host: 'a.example' }] }], 'mine'));
    const other = validateJob(spec([{ name: 'web', port: 'http', ingress: [{ host: 'a.example', path: '/' }] }], 'other'));
    assert.ok(mine.ok && other.ok);
    const [problem] = ingressConflicts(mine.job, [other.job]);
    assert.equal(problem.path, 'groups[0].services[0].ingress[0]');
    assert.match(problem.message, /host "a\.example" path "\/" is already routed to service "web" of job "other"; .*stop job "other" first/);
    const same = validateJob(spec([{ name: 'web', port: 'http', ingress: [{ host: 'a.example' }] }], 'mine'));
    assert.ok(same.ok);
    assert.deepEqual(ingressConflicts(same.job, [other.job]), []);
  });
});
