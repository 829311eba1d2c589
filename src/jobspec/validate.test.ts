import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ErrorDetail } from '../model/index.ts';
import { toJob } from './to-job.ts';
import { validateJob } from './validate.ts';

/** A minimal valid spec with `patch` applied to its first group and first task. */
function spec(patch: { job?: object; group?: object; task?: object } = {}): Record<string, unknown> {
  const task = { name: 'httpd', driver: 'docker', config: { image: 'busybox' }, ...patch.task };
  const group = { name: 'web', tasks: [task], ...patch.group };
  return { id: 'web', groups: [group], ...patch.job };
}

function errors(input: unknown): string[] {
  const result = validateJob(input);
  assert.ok(!result.ok, 'expected problems');
  return result.errors.map((e: ErrorDetail) => `${e.path}: ${e.message}`);
}

function job(input: unknown) {
  const result = validateJob(input);
  assert.ok(result.ok, result.ok ? '' : JSON.stringify(result.errors));
  return result.job;
}

describe('validateJob defaults', () => {
  test('fills every default of a minimal spec', () => {
    assert.deepEqual(job(spec()), {
      id: 'web',
      type: 'service',
      priority: 50,
      datacenters: ['dc1'],
      meta: {},
      groups: [
        {
          name: 'web',
          count: 1,
          ports: [],
          restart: { attempts: 2, intervalMs: 1_800_000, delayMs: 15_000, mode: 'fail' },
          tasks: [
            {
              name: 'httpd',
              driver: 'docker',
              config: { image: 'busybox' },
              env: {},
              resources: { cpu: 0.1, memoryMiB: 64 },
              killTimeoutMs: 5_000,
            },
          ],
        },
      ],
    });
  });

  test('gives batch jobs the batch restart policy', () => {
    assert.deepEqual(job(spec({ job: { type: 'batch' } })).groups[0].restart, {
      attempts: 3,
      intervalMs: 86_400_000,
      delayMs: 15_000,
      mode: 'fail',
    });
  });

  test('merges a partial restart block over the defaults of the job type', () => {
    const restart = job(spec({ group: { restart: { attempts: 5 } } })).groups[0].restart;
    assert.deepEqual(restart, { attempts: 5, intervalMs: 1_800_000, delayMs: 15_000, mode: 'fail' });
  });

  test('treats empty YAML values (null) as absent', () => {
    const j = job(spec({ job: { meta: null, priority: null }, task: { env: null } }));
    assert.equal(j.priority, 50);
    assert.deepEqual(j.meta, {});
    assert.deepEqual(j.groups[0].tasks[0].env, {});
  });

  test('leaves driver out when the spec does, so the node decides', () => {
    const j = job(spec({ task: { driver: undefined, config: { image: 'busybox', command: 'sh' } } }));
    assert.equal('driver' in j.groups[0].tasks[0], false);
  });
});

describe('validateJob full spec', () => {
  test('maps every field of the documented example', () => {
    const j = job({
      id: 'web',
      type: 'service',
      priority: 70,
      datacenters: ['dc1', 'dc2'],
      meta: { team: 'x', tier: 1 },
      groups: [
        {
          name: 'web',
          count: 3,
          ports: [{ label: 'http', to: 8080 }, { label: 'admin', static: 9000 }],
          restart: { attempts: 2, interval: '30m', delay: '15s', mode: 'delay' },
          tasks: [
            {
              name: 'httpd',
              driver: 'docker',
              config: { image: 'busybox', command: 'httpd', args: ['-f', '-p', '${BERTH_PORT_http}'], workdir: '/x' },
              env: { KEY: 'value', PORT: 8080, DEBUG: true },
              resources: { cpu: '500m', memory: '256Mi' },
              kill_timeout: '10s',
            },
          ],
        },
      ],
    });
    assert.equal(j.priority, 70);
    assert.deepEqual(j.datacenters, ['dc1', 'dc2']);
    assert.deepEqual(j.meta, { team: 'x', tier: '1' });
    const g = j.groups[0];
    assert.deepEqual(g.ports, [{ label: 'http', to: 8080 }, { label: 'admin', static: 9000 }]);
    assert.equal(g.restart.mode, 'delay');
    const t = g.tasks[0];
    assert.deepEqual(t.config.args, ['-f', '-p', '${BERTH_PORT_http}']);
    assert.deepEqual(t.env, { KEY: 'value', PORT: '8080', DEBUG: 'true' });
    assert.deepEqual(t.resources, { cpu: 0.5, memoryMiB: 256 });
    assert.equal(t.killTimeoutMs, 10_000);
  });

  test('toJob adds the fields berth owns without sharing structure with the input', () => {
    const input = job(spec());
    const stored = toJob(input, { version: 3, submitTime: 42 });
    assert.equal(stored.version, 3);
    assert.equal(stored.submitTime, 42);
    assert.equal(stored.stop, false);
    stored.groups[0].count = 9;
    assert.equal(input.groups[0].count, 1);
  });
});

describe('validateJob rules', () => {
  test('requires id and groups', () => {
    assert.deepEqual(errors({}), ['id: required', 'groups: required: a job needs at least one group']);
  });

  test('checks the id pattern', () => {
    assert.match(errors(spec({ job: { id: 'Web App' } }))[0], /^id: must be lowercase letters.*got "Web App"/);
    assert.match(errors(spec({ job: { id: 'x'.repeat(64) } }))[0], /^id: must be lowercase/);
    assert.match(errors(spec({ job: { id: 7 } }))[0], /^id: must be a non-empty string, got 7/);
  });

  test('checks type, priority and datacenters', () => {
    assert.deepEqual(errors(spec({ job: { type: 'servce', priority: 0, datacenters: [] } })), [
      'type: must be one of service, batch, system, got "servce"; did you mean "service"?',
      'priority: must be between 1 and 100, got 0',
      'datacenters: must name at least one datacenter',
    ]);
    assert.deepEqual(errors(spec({ job: { priority: 1.5, datacenters: ['dc1', 'dc1', ''] } })), [
      'priority: must be an integer, got 1.5',
      'datacenters[1]: duplicate datacenter "dc1"',
      'datacenters[2]: must be a datacenter name, got ""',
    ]);
  });

  test('requires groups to be a non-empty list with unique names', () => {
    assert.deepEqual(errors(spec({ job: { groups: [] } })), ['groups: must have at least one group']);
    assert.deepEqual(errors(spec({ job: { groups: { web: {} } } })), ['groups: must be a list of groups, got a map']);
    const twice = spec();
    twice.groups = [(twice.groups as unknown[])[0], (twice.groups as unknown[])[0]];
    assert.deepEqual(errors(twice), ['groups[1].name: duplicate name "web"']);
  });

  test('checks group count and tasks', () => {
    assert.deepEqual(errors(spec({ group: { count: -1 } })), ['groups[0].count: must be between 0 and 10000, got -1']);
    assert.deepEqual(errors(spec({ group: { count: '3' } })), ['groups[0].count: must be an integer, got "3"']);
    assert.deepEqual(errors(spec({ group: { tasks: [] } })), ['groups[0].tasks: must have at least one task']);
    assert.deepEqual(errors(spec({ group: { tasks: undefined } })), ['groups[0].tasks: required: a group needs at least one task']);
    assert.equal(job(spec({ group: { count: 0 } })).groups[0].count, 0);
  });

  test('rejects unknown fields at every level with a suggestion when one is close', () => {
    assert.deepEqual(errors(spec({ job: { prority: 5 }, group: { cont: 3 }, task: { killTimeout: '5s' } })), [
      'prority: unknown field; did you mean "priority"?',
      'groups[0].cont: unknown field; did you mean "count"?',
      'groups[0].tasks[0].killTimeout: unknown field; did you mean "kill_timeout"?',
    ]);
    assert.deepEqual(errors(spec({ task: { config: { image: 'x', zzz: 1 } } })), [
      'groups[0].tasks[0].config.zzz: unknown field; known fields are image, command, args, workdir, entrypoint, user, stop_signal, pull, hostname, extra_hosts, dns_servers, dns_search, network_mode, volumes, tmpfs, labels, privileged, cap_add, cap_drop, devices, init',
    ]);
  });

  test('explains a job: wrapper instead of listing every field as missing', () => {
    assert.deepEqual(errors({ job: spec() }), [
      'job: unknown field; a spec has no "job:" wrapper, write its fields (id, groups, ...) at the top level',
    ]);
  });

  test('checks ports: labels, ranges and duplicates', () => {
    const ports = [
      { label: 'http', to: 8080 },
      { label: 'http', static: 70000 },
      { label: '1bad' },
      { static: 9000 },
      { label: 'b', static: 9000 },
    ];
    assert.deepEqual(errors(spec({ group: { ports } })), [
      'groups[0].ports[1].static: must be between 1 and 65535, got 70000',
      'groups[0].ports[1].label: duplicate port label "http"',
      'groups[0].ports[2].label: must be letters, digits and "_", not starting with a digit, got "1bad"',
      'groups[0].ports[3].label: required',
      'groups[0].ports[4].static: port 9000 is already asked for by another label',
    ]);
  });

  test('checks the restart block', () => {
    assert.deepEqual(errors(spec({ group: { restart: { attempts: -1, interval: '0s', delay: 15, mode: 'fial' } } })), [
      'groups[0].restart.attempts: must be between 0 and 1000, got -1',
      'groups[0].restart.delay: must be a duration with a unit, such as "15s" or "15ms", got 15',
      'groups[0].restart.mode: must be one of fail, delay, got "fial"; did you mean "fail"?',
      'groups[0].restart.interval: must be longer than 0s, got "0s"',
    ]);
  });
});

describe('validateJob task rules', () => {
  test('requires docker tasks to name an image', () => {
    assert.deepEqual(errors(spec({ task: { config: { command: 'sh' } } })), [
      'groups[0].tasks[0].config.image: required by the docker driver',
    ]);
  });

  test('requires process tasks to name a command and refuses an image', () => {
    assert.deepEqual(errors(spec({ task: { driver: 'process', config: {} } })), [
      'groups[0].tasks[0].config.command: required by the process driver',
    ]);
    assert.match(errors(spec({ task: { driver: 'process', config: { command: 'sh', image: 'x' } } }))[0], /does not run images/);
  });

  test('requires a task without a driver to give an image or a command', () => {
    assert.deepEqual(errors(spec({ task: { driver: undefined, config: {} } })), [
      'groups[0].tasks[0].config: needs image (docker) or command (process), or both to run on either driver',
    ]);
    assert.ok(job(spec({ task: { driver: undefined, config: { command: 'sleep' } } })));
  });

  test('checks driver names, task names and duplicates', () => {
    const task = { name: 'a', config: { image: 'x' } };
    assert.deepEqual(errors(spec({ group: { tasks: [task, { ...task, driver: 'dokcer' }, { ...task, name: 'B' }] } })), [
      'groups[0].tasks[1].driver: must be one of docker, process, got "dokcer"; did you mean "docker"?',
      'groups[0].tasks[2].name: must be lowercase letters, digits, "-" and "_", starting with a letter or digit, at most 63 characters, got "B"',
      'groups[0].tasks[1].name: duplicate name "a"',
    ]);
  });

  test('checks env keys and values, and args', () => {
    const env = { GOOD: 'x', '1BAD': 'y', NESTED: { a: 1 }, LIST: [1] };
    assert.deepEqual(errors(spec({ task: { env, config: { image: 'x', args: ['a', 1, null, {}] } } })), [
      'groups[0].tasks[0].config.args[2]: must be a string, got null',
      'groups[0].tasks[0].config.args[3]: must be a string, got a map',
      'groups[0].tasks[0].env["1BAD"]: invalid key; keys must be letters, digits and "_", not starting with a digit',
      'groups[0].tasks[0].env.NESTED: must be a string, number or boolean, got a map',
      'groups[0].tasks[0].env.LIST: must be a string, number or boolean, got a list',
    ]);
  });

  test('checks resources and kill_timeout', () => {
    assert.deepEqual(errors(spec({ task: { resources: { cpu: 'lots', memory: -5, disk: 1 }, kill_timeout: 5 } })), [
      'groups[0].tasks[0].resources.disk: unknown field; known fields are cpu, memory, memory_max',
      'groups[0].tasks[0].resources.cpu: must be cores (0.5) or millicores ("500m"), got "lots"',
      'groups[0].tasks[0].resources.memory: must be a positive number of MiB, got -5',
      'groups[0].tasks[0].kill_timeout: must be a duration with a unit, such as "5s" or "5ms", got 5',
    ]);
  });

  test('reports a config that is not a map once', () => {
    assert.deepEqual(errors(spec({ task: { config: 'busybox' } })), ['groups[0].tasks[0].config: must be a map, got "busybox"']);
  });
});

describe('validateJob reports every problem at once', () => {
  test('collects problems from the job, several groups and several tasks', () => {
    const input = {
      id: 'Bad',
      priority: 500,
      groups: [
        { name: 'a', count: -2, tasks: [{ name: 't', driver: 'docker', config: {}, resources: { memory: -5 } }] },
        { name: 'b', tasks: [{ name: 't', config: { image: 'x' } }, { name: 'u', config: { image: 'x' }, kill_timeout: 'soon' }] },
      ],
    };
    assert.deepEqual(errors(input), [
      'id: must be lowercase letters, digits, "-" and "_", starting with a letter or digit, at most 63 characters, got "Bad"',
      'priority: must be between 1 and 100, got 500',
      'groups[0].count: must be between 0 and 10000, got -2',
      'groups[0].tasks[0].resources.memory: must be a positive number of MiB, got -5',
      'groups[0].tasks[0].config.image: required by the docker driver',
      'groups[1].tasks[1].kill_timeout: must be a duration such as "15s", "500ms" or "1h30m", got "soon"',
    ]);
  });
});

describe('validateJob refuses what no task can be given', () => {
  test('a NUL byte or a lone surrogate anywhere, with its path', () => {
    assert.deepEqual(errors(spec({ task: { config: { image: 'busybox', command: 'sh\0-c', args: ['ok', 'a\uD800b'] }, env: { A: 'x\0' } } })), [
      'groups[0].tasks[0].env.A: must not contain a NUL byte (\\u0000); remove it',
      'groups[0].tasks[0].config.args[1]: must be valid Unicode: it has a lone surrogate (half of a UTF-16 pair); fix the escape that made it',
      'groups[0].tasks[0].config.command: must not contain a NUL byte (\\u0000); remove it',
    ]);
    assert.deepEqual(errors(spec({ job: { meta: { '\uDC00': 'v' } } })), ['meta["\\udc00"]: key must be valid Unicode: it has a lone surrogate (half of a UTF-16 pair); fix the escape that made it']);
    // A surrogate pair is one character, and fine.
    assert.deepEqual(job(spec({ task: { config: { image: 'busybox', args: ['🚢'] } } })).groups[0].tasks[0].config.args, ['🚢']);
  });

  test('max_run_duration of 0s, on a task or a batch job', () => {
    assert.deepEqual(errors(spec({ task: { max_run_duration: '0s' } })), [
      'groups[0].tasks[0].max_run_duration: must be longer than 0s, got "0s"; remove it to let the task run without a limit',
    ]);
    assert.deepEqual(errors(spec({ job: { type: 'batch', max_run_duration: '0s' } })), ['max_run_duration: must be longer than 0s, got "0s"; remove it to let the job run without a limit']);
    assert.equal(job(spec({ task: { max_run_duration: '1s' } })).groups[0].tasks[0].maxRunDurationMs, 1000);
  });

  test('caps groups per job, tasks per group and allocations per job, naming the cap and the fix', () => {
    const task = { name: 't', driver: 'docker', config: { image: 'busybox' } };
    const groups = (n: number, count = 1) => Array.from({ length: n }, (_, i) => ({ name: `g${i}`, count, tasks: [task] }));
    assert.deepEqual(errors({ id: 'web', groups: groups(101) }), ['groups: a job may have at most 100 groups, this one has 101; split it into several jobs']);
    assert.equal(job({ id: 'web', groups: groups(100) }).groups.length, 100);
    const tasks = Array.from({ length: 101 }, (_, i) => ({ ...task, name: `t${i}` }));
    assert.deepEqual(errors(spec({ group: { tasks } })), ['groups[0].tasks: a group may have at most 100 tasks, this one has 101; move some into groups of their own']);
    assert.deepEqual(errors({ id: 'web', groups: groups(3, 4000) }), [
      "groups: a job may ask for at most 10000 allocations, its groups' counts add up to 12000; lower the counts or split it into several jobs",
    ]);
    assert.equal(job({ id: 'web', groups: groups(2, 5000) }).groups.length, 2);
  });
});
