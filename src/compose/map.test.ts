import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadProject } from './load.ts';
import { afterEntries, jobsTakeConditions, mapProject, type MapResult } from './map.ts';
import { cycleMessage, dependencyOrder } from './order.ts';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- specs read as loose trees in tests

/** The job specs of a compose.yaml under /p (with other files beside it), and the warnings. */
function convert(yaml: string, o: { files?: Record<string, string>; nodes?: number; env?: Record<string, string> } = {}): MapResult & { spec: (service: string) => Obj } {
  const files: Record<string, string> = { '/p/compose.yaml': yaml, ...o.files };
  const read = (f: string): string | undefined => files[f];
  const loaded = loadProject({ cwd: '/p', read, environment: o.env ?? {}, projectName: 'shop' });
  if (!loaded.ok) assert.fail(JSON.stringify(loaded.problems));
  const r = mapProject(loaded.project, { read, nodes: o.nodes });
  return { ...r, spec: (s) => (r.jobs.find((j) => j.service === s)?.spec ?? assert.fail(`no job for ${s}`)) as Obj };
}

const paths = (r: MapResult): string[] => r.warnings.map((w) => w.path);

describe('mapping compose services to berth jobs', () => {
  it('makes a job <project>-<service> with the project in its meta, and a berth service named after it', () => {
    const r = convert('services: {web: {image: nginx, ports: ["8080:80"], expose: ["9000"]}}');
    const web = r.spec('web');
    assert.equal(web.id, 'shop-web');
    assert.equal(web.meta.compose_project, 'shop');
    assert.deepEqual(web.groups[0].ports, [{ label: 'p80', static: 8080, to: 80 }, { label: 'e9000', to: 9000 }]);
    assert.equal(web.groups[0].services[0].name, 'web');
    assert.equal(web.groups[0].services[0].port, 'p80');
    assert.deepEqual(r.problems, []);
  });

  it('maps the container settings onto the docker task', () => {
    const web = convert(`services:
  web:
    image: app:1
    command: 'serve --port "80 80"'
    entrypoint: [/init]
    working_dir: /srv
    user: "1000:1000"
    stop_signal: SIGINT
    stop_grace_period: 1m30s
    hostname: web-1
    extra_hosts: ["db:10.0.0.5"]
    dns: 1.1.1.1
    labels: [team=web]
    cap_add: [NET_ADMIN]
    cap_drop: [ALL]
    privileged: true
    init: true
    devices: ["/dev/fuse"]
    pull_policy: always
    logging: {driver: json-file, options: {max-size: 20m, max-file: "3"}}
`).spec('web');
    const task = web.groups[0].tasks[0];
    assert.deepEqual(task.config, {
      image: 'app:1', command: 'serve', args: ['--port', '80 80'], entrypoint: ['/init'], workdir: '/srv', user: '1000:1000',
      stop_signal: 'SIGINT', hostname: 'web-1', pull: 'always', extra_hosts: ['db:10.0.0.5'], dns_servers: ['1.1.1.1'], dns_search: ['shop-default.network.berth'],
      labels: { team: 'web' }, privileged: true, init: true, cap_add: ['NET_ADMIN'], cap_drop: ['ALL'], devices: ['/dev/fuse'],
    });
    assert.equal(task.kill_timeout, '90000ms');
    assert.deepEqual(task.logs, { max_file_size: '20Mi', max_files: 3 });
  });

  it('reads env_file then environment, a bare name from the shell', () => {
    const r = convert('services: {web: {image: a, env_file: web.env, environment: [B=2, FROM_SHELL]}}', { files: { '/p/web.env': 'A=1\nB=1\n' }, env: { FROM_SHELL: 'yes' } });
    assert.deepEqual(r.spec('web').groups[0].tasks[0].env, { A: '1', B: '2', FROM_SHELL: 'yes' });
  });

  it('turns a healthcheck into a script check: CMD, CMD-SHELL, Docker defaults, NONE', () => {
    const r = convert(`services:
  a: {image: a, healthcheck: {test: [CMD, pg_isready, -U, app], interval: 5s, timeout: 1s, retries: 4, start_period: 30s}}
  b: {image: b, healthcheck: {test: "curl -f localhost || exit 1"}}
  c: {image: c, healthcheck: {test: [NONE]}}
`);
    assert.deepEqual(r.spec('a').groups[0].services[0].checks[0], { name: 'healthcheck', type: 'script', command: 'pg_isready', args: ['-U', 'app'], interval: '5000ms', timeout: '1000ms', failures_before_critical: 3 });
    assert.deepEqual(r.spec('b').groups[0].services[0].checks[0].args, ['-c', 'curl -f localhost || exit 1']);
    assert.equal(r.spec('b').groups[0].services[0].checks[0].interval, '30000ms');
    assert.equal(r.spec('c').groups[0].services[0].checks, undefined);
  });

  it('runs restart "no" as a batch job that is not run again, global as a system job', () => {
    const r = convert(`services:
  migrate: {image: m, restart: "no"}
  agent: {image: g, deploy: {mode: global}}
  web: {image: w, restart: always, deploy: {replicas: 3}}
`);
    assert.equal(r.spec('migrate').type, 'batch');
    assert.deepEqual(r.spec('migrate').groups[0].reschedule, { attempts: 0, unlimited: false });
    assert.equal(r.spec('migrate').groups[0].restart.attempts, 0);
    assert.equal(r.spec('agent').type, 'system');
    assert.equal(r.spec('web').type, 'service');
    assert.equal(r.spec('web').groups[0].count, 3);
    assert.equal(r.spec('web').groups[0].restart.mode, 'delay');
  });

  it('maps deploy: resources, placement, restart_policy and update_config', () => {
    const web = convert(`services:
  web:
    image: w
    deploy:
      resources: {limits: {cpus: "1", memory: 1g}, reservations: {cpus: "0.25", memory: 256M}}
      placement:
        constraints: ["node.labels.zone == a", "node.hostname != h1", "node.platform.arch == x86_64"]
        preferences: [{spread: node.labels.rack}]
      restart_policy: {condition: on-failure, max_attempts: 2, delay: 3s, window: 1m}
      update_config: {parallelism: 2, delay: 10s, failure_action: rollback, order: start-first, monitor: 5s}
`).spec('web');
    const g = web.groups[0];
    assert.deepEqual(g.tasks[0].resources, { cpu: 0.25, memory: 256, memory_max: 1024 });
    assert.deepEqual(g.constraints, [
      { attribute: '${meta.zone}', operator: '=', value: 'a' },
      { attribute: '${node.unique.name}', operator: '!=', value: 'h1' },
      { attribute: '${attr.cpu.arch}', operator: '=', value: 'x64' },
    ]);
    assert.deepEqual(g.spreads, [{ attribute: '${meta.rack}', weight: 100 }]);
    assert.equal(web.type, 'batch', 'on-failure restarts only a failure: a one-shot');
    assert.deepEqual(g.restart, { attempts: 2, interval: '60000ms', delay: '3000ms', mode: 'fail' });
    assert.equal(g.update, undefined, 'batch jobs have no rolling update');
  });

  it('maps update_config on a service: start-first as auto-promoted canaries, rollback as auto_revert', () => {
    const g = convert('services: {web: {image: w, deploy: {update_config: {parallelism: 2, delay: 10s, failure_action: rollback, order: start-first}}}}').spec('web').groups[0];
    assert.deepEqual(g.update, { max_parallel: 2, stagger: '10000ms', auto_revert: true, canary: 2, auto_promote: true, health_check: 'task_states' });
  });

  it('mounts binds from the project directory, named volumes under the project, external ones as named, and tmpfs', () => {
    const r = convert(`services:
  db: {image: d, volumes: ["./init:/init:ro", "data:/var/lib/data", "ext:/ext", {type: tmpfs, target: /tmp, tmpfs: {size: 64m, mode: 0o1777}}, {type: npipe, source: x, target: /x}], tmpfs: /run}
volumes: {data: {}, ext: {external: true}}
`);
    const config = r.spec('db').groups[0].tasks[0].config;
    assert.deepEqual(config.volumes, ['/p/init:/init:ro', 'shop_data:/var/lib/data', 'ext:/ext']);
    assert.deepEqual(config.tmpfs, ['/run', '/tmp:size=64m,mode=1777']);
    assert.deepEqual(paths(r), ['services.db.volumes[4]']);
  });

  it('names each mount option and top-level volume key it does not pass on', () => {
    const r = convert(`services:
  db:
    image: d
    volumes:
      - ./src:/src:z
      - data:/d:nocopy
      - {type: volume, source: data, target: /e, volume: {nocopy: true, subpath: sub}}
      - {type: bind, source: ., target: /y, bind: {propagation: rshared, create_host_path: true}, consistency: cached}
      - {type: bind, source: ./gone, target: /g, bind: {create_host_path: false}}
volumes: {data: {driver: nfs, driver_opts: {type: nfs}, labels: {a: b}, name: shop-data}}
`);
    assert.deepEqual(r.spec('db').groups[0].tasks[0].config.volumes, ['/p/src:/src', 'shop-data:/d', 'shop-data:/e', '/p:/y', '/p/gone:/g']);
    assert.deepEqual(paths(r).sort(), [
      'services.db.volumes[0]', 'services.db.volumes[1]', 'services.db.volumes[2].volume.nocopy', 'services.db.volumes[2].volume.subpath',
      'services.db.volumes[3].bind.propagation', 'services.db.volumes[3].consistency', 'services.db.volumes[4].bind.create_host_path',
      'volumes.data.driver', 'volumes.data.driver_opts', 'volumes.data.labels',
    ]);
    assert.match(r.warnings.find((w) => w.path === 'services.db.volumes[0]')?.message ?? '', /"z"/);
  });

  it('delivers secrets and configs from a file, the environment or content as templates bound at their Compose paths', () => {
    const r = convert(`services:
  db:
    image: d
    environment: {PASSWORD_FILE: /run/secrets/pw}
    secrets: [pw, {source: key, target: api.key, mode: 0o400}]
    configs: [{source: conf, target: /etc/app.conf}, motd]
secrets: {pw: {file: ./pw.txt}, key: {environment: KEY}}
configs: {conf: {content: "a={{b}}"}, motd: {content: hi}}
`, { files: { '/p/pw.txt': 's3cret' }, env: { KEY: 'k' } });
    const task = r.spec('db').groups[0].tasks[0];
    assert.deepEqual(task.templates, [
      { data: 's3cret', destination: 'secrets/pw', change_mode: 'restart' },
      { data: 'k', destination: 'secrets/key', change_mode: 'restart' },
      { data: 'a=\\{{b}}', destination: 'local/conf', change_mode: 'restart' },
      { data: 'hi', destination: 'local/motd', change_mode: 'restart' },
    ]);
    assert.deepEqual(task.config.volumes, ['secrets/pw:/run/secrets/pw:ro', 'secrets/key:/run/secrets/api.key:ro', 'local/conf:/etc/app.conf:ro', 'local/motd:/motd:ro']);
    assert.equal(task.env.PASSWORD_FILE, '/run/secrets/pw');
    assert.deepEqual(paths(r), ['services.db.secrets[1].mode']);
  });

  it('delivers an empty secret file as an empty file, not an invalid job', () => {
    const r = convert('services: {db: {image: d, secrets: [pw]}}\nsecrets: {pw: {file: ./pw.txt}}', { files: { '/p/pw.txt': '' } });
    assert.deepEqual(r.problems, []);
    assert.deepEqual(r.spec('db').groups[0].tasks[0].templates, [{ data: '{{!-- empty --}}', destination: 'secrets/pw', change_mode: 'restart' }]);
  });

  it('names every key it does not honour, and never a key it does', () => {
    const r = convert('services: {web: {image: w, read_only: true, sysctls: {a: 1}, init: true, x-other: 1, deploy: {endpoint_mode: vip}, networks: [front]}}\nnetworks: {front: {}}');
    assert.deepEqual(paths(r).sort(), ['networks', 'services.web.deploy.endpoint_mode', 'services.web.read_only', 'services.web.sysctls']);
  });

  it('registers container_name and links aliases as names of the service, globally and in its network', () => {
    const r = convert('services: {db: {image: d, container_name: pg}, web: {image: w, links: ["db:database"]}}');
    assert.deepEqual(r.spec('db').groups[0].services.map((s: Obj) => s.name), ['db', 'pg', 'database', 'db--shop-default', 'pg--shop-default', 'database--shop-default']);
  });

  it('scopes names to networks: containers search their own networks, each service is named in each of its networks', () => {
    const r = convert(`services:
  web: {image: w, networks: [front]}
  api: {image: a, networks: {front: {}, back: {aliases: [app], ipv4_address: 10.0.0.9}}}
  db: {image: d, networks: [back], healthcheck: {test: [CMD, check]}}
  host: {image: h, network_mode: host}
networks: {front: {}, back: {driver: overlay}, shared: {external: true}}`);
    const names = (s: string): string[] => r.spec(s).groups[0].services.map((x: Obj) => x.name);
    assert.deepEqual(names('web'), ['web', 'web--shop-front']);
    assert.deepEqual(names('api'), ['api', 'api--shop-front', 'api--shop-back', 'app--shop-back']);
    assert.deepEqual(names('db'), ['db', 'db--shop-back']);
    assert.deepEqual(names('host'), ['host']);
    assert.deepEqual(r.spec('web').groups[0].tasks[0].config.dns_search, ['shop-front.network.berth']);
    assert.deepEqual(r.spec('api').groups[0].tasks[0].config.dns_search, ['shop-front.network.berth', 'shop-back.network.berth']);
    assert.equal(r.spec('host').groups[0].tasks[0].config.dns_search, undefined);
    assert.deepEqual(r.spec('db').groups[0].services.map((x: Obj) => (x.checks as Obj[] | undefined)?.length ?? 0), [1, 1], 'the check guards the scoped name too');
    assert.deepEqual(paths(r).sort(), ['networks', 'networks.back.driver', 'services.api.networks.back.ipv4_address']);
  });

  it('builds on one node (context, dockerfile, args, target, tagged image or <project>-<service>); refuses build without image on several, with the fix', () => {
    const one = convert('services: {app: {build: ./app}, api: {image: reg/api:2, build: {context: api, dockerfile: Dockerfile.dev, args: {V: 1}, target: run, ssh: [default]}}}');
    assert.equal(one.spec('app').groups[0].tasks[0].config.image, 'shop-app');
    assert.equal(one.spec('app').groups[0].tasks[0].config.pull, 'never');
    assert.deepEqual(one.jobs.find((j) => j.service === 'app')?.build, { context: '/p/app', tag: 'shop-app' });
    assert.deepEqual(one.jobs.find((j) => j.service === 'api')?.build, { context: '/p/api', tag: 'reg/api:2', dockerfile: 'Dockerfile.dev', args: { V: '1' }, target: 'run' });
    assert.deepEqual(paths(one), ['services.api.build.ssh']);
    const files = { '/p/compose.yaml': 'services: {app: {build: ./app}, api: {image: reg/api:2, build: api}}' };
    const loaded = loadProject({ cwd: '/p', read: (f) => files[f as keyof typeof files], environment: {}, projectName: 'shop' });
    const many = loaded.ok ? mapProject(loaded.project, { read: () => undefined, nodes: 3 }) : assert.fail();
    assert.deepEqual(many.problems.map((p) => p.path), ['services.app.build']);
    assert.match(many.problems[0].message, /cannot be built for a cluster of 3 nodes.*set image:/);
    assert.deepEqual(many.warnings.map((w) => w.path), ['services.api.build']);
    assert.equal(many.jobs.some((j) => j.build), false);
  });

  it('merges x-berth onto the job, its group and its task', () => {
    const web = convert(`x-berth: {datacenters: [eu1]}
services:
  web:
    image: w
    x-berth: {priority: 80, group: {count: 2}, task: {resources: {memory: 128}}}
`).spec('web');
    assert.deepEqual([web.datacenters, web.priority, web.groups[0].count, web.groups[0].tasks[0].resources], [['eu1'], 80, 2, { memory: 128 }]);
  });

  it('orders services by depends_on, and names a cycle', () => {
    const r = convert('services: {web: {image: w, depends_on: [api]}, api: {image: a, depends_on: {db: {condition: service_healthy}}}, db: {image: d}}');
    assert.deepEqual(dependencyOrder(r.jobs), { ok: true, batches: [['db'], ['api'], ['web']] });
    assert.deepEqual(r.jobs.find((j) => j.service === 'api')?.dependsOn, { db: { condition: 'service_healthy', required: true, restart: false } });
    const cyc = convert('services: {a: {image: w, depends_on: [b]}, b: {image: a, depends_on: [a]}}');
    assert.deepEqual(dependencyOrder(cyc.jobs), { ok: false, cycle: ['a', 'b', 'a'] });
    assert.equal(cycleMessage(['a', 'b', 'a']), 'services.a.depends_on: a dependency cycle a -> b -> a; remove one of these depends_on entries');
  });

  it('writes depends_on as after: with conditions when job specs take them', () => {
    const deps = { db: { condition: 'service_healthy', required: true, restart: true }, gone: { condition: 'service_started', required: false, restart: false } } as const;
    assert.deepEqual(afterEntries('shop', deps, ['db', 'api']), [{ job: 'shop-db', condition: 'healthy', restart: true }]);
    const api = convert('services: {api: {image: a, depends_on: {db: {condition: service_completed_successfully}}}, db: {image: d}}').spec('api');
    assert.deepEqual(api.after, jobsTakeConditions() ? [{ job: 'shop-db', condition: 'completed' }] : undefined);
  });

  it('refuses a duration, size, CPU count, count or port that is none, each at its path, instead of a default', () => {
    const files: Record<string, string> = {
      '/p/compose.yaml': `services:
  a:
    image: busybox
    ports: ["abc", "8080:80", "3000-3001:3000-3001"]
    healthcheck: {test: [CMD, x], interval: 5 parsecs, retries: -3}
    deploy: {replicas: 2, resources: {limits: {memory: 12 potatoes, cpus: "0.5"}}, update_config: {delay: soon}}
    mem_reservation: 64m
    cpus: many
`,
    };
    const read = (f: string): string | undefined => files[f];
    const loaded = loadProject({ cwd: '/p', read, environment: {}, projectName: 'shop' });
    assert.ok(loaded.ok);
    const r = mapProject(loaded.project, { read });
    assert.deepEqual(r.problems.map((p) => p.path), [
      'services.a.healthcheck.interval', 'services.a.healthcheck.retries', 'services.a.deploy.update_config.delay',
      'services.a.deploy.resources.limits.memory', 'services.a.cpus', 'services.a.ports[0].target', 'services.a.ports[2].target',
    ]);
    assert.equal(r.problems[0].message, '"5 parsecs" is not a duration such as 10s, 1m30s or 500ms');
    assert.match(r.problems[6].message, /one port per entry/);
  });

  it('reports a job berth would refuse, with the job spec path', () => {
    const r = convert('services: {web: {image: w, ports: ["80:80", "80:81"]}}');
    assert.match(r.problems.map((p) => p.message).join(), /static: port 80 is already asked for/);
  });
});
