/**
 * Debian's `prometheus` scrapes a real `berth server` and `berth agent` (process driver) from
 * static targets, and the series an operator would graph come back through its query API: the
 * server's leadership, nodes, backend latency and broker, the agent's tasks, checks and driver
 * latency.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AgentMetrics } from '../../src/agent/index.ts';
import { ServerMetrics } from '../../src/server/index.ts';
import { berth, eventually, freePort } from '../harness/berth.ts';
import { startAgent, startServer, type BerthProcess } from '../harness/cluster.ts';

const hasPrometheus = spawnSync('prometheus', ['--version']).status === 0;

const JOB = `id: metered
groups:
  - name: app
    count: 2
    tasks:
      - name: main
        driver: process
        config: {command: /bin/sleep, args: ["3600"]}
        resources: {cpu: 10m, memory: 8Mi}
        kill_timeout: 1s
        services:
          - name: metered
            checks: [{type: script, command: /bin/true, interval: 1s}]
`;

/** One instant query through Prometheus's HTTP API: each series' labels and value. */
async function query(prom: string, q: string): Promise<{ metric: Record<string, string>; value: number }[]> {
  const res = await fetch(`${prom}/api/v1/query?query=${encodeURIComponent(q)}`);
  const body = (await res.json()) as { status: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
  assert.equal(body.status, 'success', `query ${q}: ${JSON.stringify(body)}`);
  return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
}

describe('the Grafana dashboard in docs/', () => {
  it('graphs only series that a berth server or agent serves', async () => {
    const dashboard = JSON.parse(await readFile(path.join(import.meta.dirname, '../../docs/grafana-dashboard.json'), 'utf8')) as { panels: { targets?: { expr: string }[] }[] };
    const served = new Set<string>();
    for (const registry of [new ServerMetrics().registry, new AgentMetrics().registry]) {
      for (const m of await registry.getMetricsAsJSON()) {
        served.add(m.name);
        if (String(m.type) === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) served.add(m.name + suffix);
      }
    }
    const exprs = dashboard.panels.flatMap((p) => p.targets ?? []).map((t) => t.expr);
    assert.ok(exprs.length > 15);
    for (const expr of exprs) for (const name of expr.match(/berth_[a-z_]+/g) ?? []) assert.ok(served.has(name), `${name} (in ${expr}) is not served`);
  });
});

describe('Prometheus scraping a berth server and agent', { timeout: 120_000 }, () => {
  if (!hasPrometheus) {
    it('needs prometheus', (t) => {
      if (process.env.CI === 'true') assert.fail('prometheus is not installed (apt-get install prometheus)');
      t.skip('prometheus is not installed (apt-get install prometheus)');
    });
    return;
  }
  let dir: string;
  let server: (BerthProcess & { addr: string; port: number }) | undefined;
  let agent: BerthProcess | undefined;
  let prometheus: ChildProcess | undefined;
  let prom = '';
  let agentPort = 0;
  let log = '';

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'berth-prom-'));
    server = await startServer(path.join(dir, 'server'));
    agentPort = await freePort();
    agent = await startAgent({ servers: [server.addr], dataDir: path.join(dir, 'agent'), nodeName: `prom-${process.pid}`, driver: 'process', args: ['--http-addr', `127.0.0.1:${agentPort}`] });
    const promPort = await freePort();
    prom = `http://127.0.0.1:${promPort}`;
    const config = `global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: berth-server
    metrics_path: /v1/metrics
    static_configs: [{targets: ["127.0.0.1:${server.port}"]}]
  - job_name: berth-agent
    metrics_path: /v1/metrics
    static_configs: [{targets: ["127.0.0.1:${agentPort}"]}]
`;
    await writeFile(path.join(dir, 'prometheus.yml'), config);
    prometheus = spawn('prometheus', [`--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${promPort}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    prometheus.stderr!.on('data', (d: Buffer) => (log = (log + d).slice(-20_000)));
    await eventually('prometheus to be ready', async () => (await fetch(`${prom}/-/ready`).catch(() => undefined))?.ok, 30_000);
  });
  after(async () => {
    prometheus?.kill('SIGTERM');
    if (server) await berth(['job', 'stop', 'metered', '--purge', '--detach'], { addr: server.addr }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 1500));
    await agent?.stop();
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('finds both targets up and the series of a running job', async () => {
    const file = path.join(dir, 'metered.yaml');
    await writeFile(file, JOB);
    const run = await berth(['job', 'run', file], { addr: server!.addr, timeoutMs: 60_000 });
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}\nagent: ${agent?.logs().slice(-2000)}`);

    const up = await eventually('both targets up', async () => {
      const r = await query(prom, 'up');
      return r.length === 2 && r.every((s) => s.value === 1) ? r : undefined;
    }, 30_000).catch((err: Error) => assert.fail(`${err.message}\nprometheus: ${log.slice(-3000)}`));
    assert.deepEqual(up.map((s) => s.metric.job).sort(), ['berth-agent', 'berth-server']);

    // The server's side.
    assert.deepEqual((await query(prom, 'berth_leader')).map((s) => s.value), [1]);
    assert.deepEqual((await query(prom, 'berth_nodes{status="ready"}')).map((s) => s.value), [1]);
    // The p99 of every backend call so far, from the histogram's cumulative buckets.
    const [p99] = await query(prom, 'histogram_quantile(0.99, sum by (le) (berth_backend_request_duration_seconds_bucket))');
    assert.ok(p99 && p99.value > 0 && p99.value < 5, `backend p99 ${JSON.stringify(p99)}`);

    // The agent's: both tasks running, their checks passing, the driver's starts timed.
    const running = await eventually('the tasks and checks in Prometheus', async () => {
      const tasks = await query(prom, 'berth_agent_task_state{job_id="metered",state="running"} == 1');
      const checks = await query(prom, 'berth_agent_check_status{job_id="metered",status="passing"} == 1');
      return tasks.length === 2 && checks.length === 2 ? tasks : undefined;
    }, 30_000).catch(async (err: Error) => {
      const text = await (await fetch(`http://127.0.0.1:${agentPort}/v1/metrics`)).text();
      return assert.fail(`${err.message}\nthe agent serves:\n${text.split('\n').filter((l) => l.startsWith('berth_agent_') && !l.startsWith('berth_agent_process') && !l.startsWith('berth_agent_nodejs')).join('\n')}`);
    });
    assert.deepEqual(new Set(running.map((s) => s.metric.task)), new Set(['main']));
    const starts = await query(prom, 'berth_agent_driver_operation_seconds_count{driver="process",op="start"}');
    assert.deepEqual(starts.map((s) => s.value), [2]);
    // Bounded labels: no series of the agent's names a request or a URL.
    const names = await (await fetch(`${prom}/api/v1/label/__name__/values`)).json() as { data: string[] };
    assert.ok(names.data.includes('berth_agent_alloc_memory_bytes'));
    const labels = await (await fetch(`${prom}/api/v1/labels`)).json() as { data: string[] };
    for (const l of labels.data) assert.ok(!/^(url|path|request_id|index)$/.test(l), `label ${l}`);
  });
});
