/**
 * The web UI in a real browser (Debian's Chromium, headless, through playwright-core) against a real
 * `berth dev`: a job written in the spec editor is planned (the diff shown) and applied, and its
 * deployment turns healthy on the page without a reload; a canary is promoted from the page; a
 * broken spec shows the server's problem at its path; with the docker driver a log line appears
 * within a second and `echo hi` in the exec terminal prints `hi`; a node is drained; a KV edit that
 * loses a CAS race shows the conflict and overwrites nothing; the DAG A -> B -> C turns green after
 * mark-success from the page; an unplaceable job lists each ruled-out node and why; a read-only token
 * is offered no action; the lost-connection banner comes and goes as the server stops and restarts;
 * axe-core finds no critical or serious violation on any page, light or dark.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { BerthClient, DiscoveryClient } from '../../src/api/index.ts';
import type { Allocation } from '../../src/model/index.ts';
import { dockerTestEngine } from '../../src/testing/index.ts';
import { eventually, freePort, startDev, type DevProcess } from '../harness/berth.ts';
import { browserProblem, launchBrowser, navigate, open, seriousViolations } from '../harness/browser.ts';

const SPEC = (args: string, canary = 0): string => `id: ui-web
type: service
update:
  max_parallel: 1
  health_check: task_states
  min_healthy_time: 1s
  canary: ${canary}
groups:
  - name: web
    count: 2
    tasks:
      - name: web
        driver: process
        config:
          command: /bin/sh
          args: ["-c", "${args}"]
        resources:
          cpu: 50m
          memory: 16Mi
`;

const problem = browserProblem();
const engine = dockerTestEngine();

describe('the web UI in a browser', { skip: problem }, () => {
  let dev: DevProcess;
  let browser: Browser;
  let page: Page;
  let client: BerthClient;
  const pageErrors: string[] = [];

  before(async () => {
    [dev, browser] = await Promise.all([startDev({ driver: 'process', dockerHost: engine?.host }), launchBrowser()]);
    client = new BerthClient({ address: dev.addr });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('dialog', (d) => void d.accept());
  });
  after(async () => {
    await browser?.close();
    await dev?.cleanup();
  });

  /** Replace the editor's text, as pasting it would. */
  const typeSpec = async (text: string): Promise<void> => {
    await page.locator('.cm-content').fill(text);
  };

  it('shows a broken spec’s problem at its path, then plans, applies and follows a deployment live', async () => {
    await open(page, `${dev.addr}/ui/run`);
    await typeSpec(SPEC('sleep 1000').replace('count: 2', 'count: -1'));
    const error = page.getByRole('alert').first();
    await error.waitFor();
    assert.match(await error.innerText(), /groups\[0\]\.count/, 'the server’s path of the problem');
    await page.locator('.cm-lint-marker-error').first().waitFor();

    await typeSpec(SPEC('sleep 1000'));
    const plan = page.getByTestId('plan');
    await plan.getByText('added group "web"').waitFor();
    assert.match(await plan.innerText(), /web\s+2\s+0\s+0\s+0\s+0/, 'two allocations to create');

    await page.evaluate('window.stayed = true');
    await page.getByRole('button', { name: 'Apply plan' }).click();
    const healthy = page.getByTestId('healthy');
    await healthy.first().waitFor();
    const seen = new Set<string>();
    await eventually('the deployment to turn successful on the page', async () => {
      seen.add(await healthy.first().innerText());
      return (await page.getByTestId('deployment').first().innerText()).includes('successful');
    }, 30_000);
    assert.equal(await healthy.first().innerText(), '2');
    assert.ok([...seen].some((v) => v !== '2'), `the count moved while the page watched (saw ${[...seen].join(', ')})`);
    assert.equal(await page.evaluate('window.stayed'), true, 'no reload');
  });

  it('promotes a canary from the job page', async () => {
    await navigate(page, '/ui/jobs/ui-web/edit');
    await page.locator('.cm-content').waitFor();
    await typeSpec(SPEC('sleep 2000', 1));
    await page.getByTestId('plan').getByText('args').first().waitFor();
    await page.getByRole('button', { name: 'Apply plan' }).click();
    await page.getByTestId('deployment').first().waitFor();
    await navigate(page, '/ui/jobs/ui-web?tab=deployments');
    const promote = page.getByRole('button', { name: 'Promote' });
    await promote.waitFor({ timeout: 30_000 });
    await eventually('the canary to be healthy', async () => (await client.jobDeployment('ui-web'))?.groups.web.healthy === 1, 30_000);
    await promote.click();
    await page.getByTestId('deployment').first().getByText('successful', { exact: true }).waitFor({ timeout: 30_000 });
    assert.equal((await client.jobDeployment('ui-web'))?.status, 'successful');

    // A bad value sent from the page gets the server's 400 shown beside the button, never a 500.
    await page.getByRole('spinbutton', { name: 'Count of web' }).fill('-5');
    await page.getByRole('button', { name: 'Scale' }).click();
    const refusal = page.getByRole('alert');
    await refusal.waitFor();
    assert.match(await refusal.innerText(), /count/i);
    assert.equal((await client.getJob('ui-web')).groups[0].count, 2, 'nothing changed');
  });

  it('shows the conflict when a KV edit loses a CAS race, and overwrites nothing; shows who holds a lock', async () => {
    const kv = new DiscoveryClient(client.servers);
    await kv.kvPut('app/config', 'v1');
    await navigate(page, '/ui/kv/app/config');
    const box = page.getByRole('textbox', { name: /Value of app\/config/ });
    await box.waitFor();
    assert.equal(await box.inputValue(), 'v1');
    await box.fill('mine');
    await kv.kvPut('app/config', 'theirs');
    await page.getByRole('button', { name: 'Save (CAS)' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /changed by someone else/);
    assert.equal(Buffer.from((await kv.kvList('app/config')).value[0].Value ?? '', 'base64').toString(), 'theirs');

    // A lock taken meanwhile shows live with its holder: the session's name and node.
    const session = (await (await fetch(`${dev.addr}/v1/session/create`, { method: 'PUT', body: JSON.stringify({ Name: 'ui-leader' }) })).json()) as { ID: string };
    await fetch(`${dev.addr}/v1/kv/app/leader?acquire=${session.ID}`, { method: 'PUT', body: 'me' });
    const holders = page.getByTestId('lock-holders');
    await holders.getByText(`app/leader: held by ui-leader ${session.ID.slice(0, 8)} on`).waitFor();
  });

  it('shows a log line within a second and runs `echo hi` in the exec terminal (docker)', { skip: engine ? undefined : 'no Docker engine' }, async () => {
    const spec = {
      id: 'ui-shell',
      groups: [{ name: 'shell', count: 1, tasks: [{ name: 'shell', driver: 'docker', config: { image: engine!.image, command: '/bin/sh', args: ['-c', 'while :; do echo "tick $(cut -d" " -f1 /proc/uptime)"; sleep 2; done'] }, resources: { cpu: 0.05, memory: '16MiB' } }] }],
    };
    await client.registerJob(spec);
    const alloc = await eventually('a running allocation', async () => (await client.jobAllocations('ui-shell')).value.find((a: Allocation) => a.clientStatus === 'running'));
    await navigate(page, `/ui/allocations/${alloc.id}`);
    const logs = page.getByTestId('logs');
    await logs.getByText(/tick/).first().waitFor({ timeout: 20_000 });
    const before = (await logs.innerText()).split('\n').filter((l) => l.startsWith('tick')).length;
    await page.waitForFunction(`(document.querySelector('[data-testid=logs]')?.textContent?.match(/tick/g)?.length ?? 0) > ${before}`, undefined, { polling: 'raf', timeout: 10_000 });
    const now = Number((await readFile('/proc/uptime', 'utf8')).split(' ')[0]);
    const printed = Number((await logs.innerText()).trim().split('\n').at(-1)!.split(' ')[1]);
    assert.ok(now - printed < 1, `the line printed at ${printed} s was on the page at ${now} s`);

    await page.getByRole('button', { name: 'Open terminal' }).click();
    await page.getByText(/in shell: connected/).waitFor();
    await page.keyboard.type('echo hi\n');
    await eventually('hi in the terminal', async () => (await page.locator('.xterm-rows').innerText()).split('\n').some((l) => l.trim() === 'hi'));
  });

  it('draws the DAG of A -> B -> C live with B failed and C held, then all green after mark-success from the page', async () => {
    const step = (id: string, after: string[], code: number): object => ({
      id,
      type: 'batch',
      ...(after.length ? { after } : {}),
      groups: [{ name: 'g', restart: { attempts: 0, mode: 'fail' }, reschedule: { attempts: 0 }, tasks: [{ name: 't', driver: 'process', config: { command: '/bin/sh', args: ['-c', `exit ${code}`] }, resources: { cpu: 0.05, memory: '16MiB' } }] }],
    });
    await client.registerJob(step('dag-c', ['dag-b'], 0));
    await client.registerJob(step('dag-b', ['dag-a'], 1));
    await open(page, `${dev.addr}/ui/dependencies`);
    await page.getByText('dag-c · pending').waitFor();
    await client.registerJob(step('dag-a', [], 0));
    for (const label of ['dag-a · complete', 'dag-b · failed', 'dag-c · held']) await page.getByText(label).waitFor({ timeout: 30_000 });
    assert.equal(await page.locator('.react-flow__edge-text', { hasText: 'completed' }).count(), 2, 'each edge labelled with its condition');
    const held = page.getByRole('list', { name: 'What holds dag-c' }).first();
    await held.getByText(/waits for dag-b to be completed:/).waitFor({ timeout: 30_000 });
    assert.match(await held.innerText(), /waits for dag-b to be completed: .*dag-b.*fail/i, 'the server’s reason');

    // Mark B's failed run successful from the page: C goes on, and the graph turns green live.
    await page.evaluate('window.stayed = true');
    await page.getByText('dag-b · failed').click();
    await page.waitForURL(/\/ui\/dependencies\?job=dag-b$/);
    await page.getByRole('region', { name: 'Job dag-b' }).getByRole('button', { name: 'Mark successful' }).click();
    for (const label of ['dag-b · complete', 'dag-c · complete']) await page.getByText(label).waitFor({ timeout: 30_000 });
    assert.equal(await page.getByTestId('held').count(), 0, 'nothing held any more');
    assert.equal(await page.evaluate('window.stayed'), true, 'no reload');
    const b = (await client.jobRuns('dag-b')).runs.find((r) => r.markedSuccess);
    assert.ok(b, 'the server keeps who marked the run');
    // The chosen job is part of the URL: a shared link opens it.
    await navigate(page, '/ui/dependencies?job=dag-c');
    await page.getByRole('region', { name: 'Job dag-c' }).waitFor();
  });

  it('lists each ruled-out node and its reason, in the plan’s dry run and in the job’s evaluations', async () => {
    const big = SPEC('sleep 1000').replace('id: ui-web', 'id: ui-big').replace('memory: 16Mi', 'memory: 900Gi');
    await open(page, `${dev.addr}/ui/run`);
    await typeSpec(big);
    const dry = page.getByTestId('plan').getByRole('table', { name: 'Nodes ruled out for group web' });
    await dry.getByRole('row', { name: /dev .* memory exhausted/ }).waitFor();

    await client.registerJob(big);
    await navigate(page, '/ui/jobs/ui-big?tab=evaluations');
    const ruledOut = page.getByRole('table', { name: 'Nodes ruled out for group web' }).first();
    await ruledOut.waitFor();
    const [node] = (await client.listNodes()).value;
    const cells = await ruledOut.locator('tbody tr').first().locator('td').allInnerTexts();
    assert.match(cells[0], new RegExp(`^${node.name}\\b`), 'the node by name');
    assert.equal(cells[1], 'memory exhausted', 'and why it was ruled out');
    await client.stopJob('ui-big', true);
  });

  it('shows a periodic job’s next launches and forces one, and dispatches a parameterized job (a bad meta line named)', async () => {
    const task = { name: 't', driver: 'process', config: { command: '/bin/sh', args: ['-c', 'exit 0'] }, resources: { cpu: 0.05, memory: '16MiB' } };
    await client.registerJob({ id: 'ui-cron', type: 'batch', periodic: { cron: '0 3 * * *' }, groups: [{ name: 'g', tasks: [task] }] });
    await client.registerJob({ id: 'ui-param', type: 'batch', parameterized: { payload: 'optional', meta_required: ['who'] }, groups: [{ name: 'g', tasks: [task] }] });
    await navigate(page, '/ui/jobs/ui-cron?tab=runs');
    const next = page.getByText(/^Next launches:/);
    await next.waitFor();
    assert.equal(await next.locator('time').count(), 5, 'the next five launches');
    await page.getByRole('button', { name: 'Force a launch now' }).click();
    const launched = page.getByTestId('launched');
    await launched.getByRole('link', { name: /^ui-cron\/periodic-/ }).waitFor();
    await page.getByRole('table', { name: 'Runs' }).getByRole('cell', { name: 'force', exact: true }).waitFor();

    await navigate(page, '/ui/jobs/ui-param?tab=runs');
    const meta = page.getByLabel('Meta (key=value, one a line)');
    await meta.fill('who');
    await page.getByRole('button', { name: 'Dispatch' }).click();
    await page.getByRole('alert').getByText('meta "who" is not key=value').waitFor();
    assert.equal((await client.jobRuns('ui-param')).runs.length, 0, 'nothing dispatched');
    await meta.fill('who=ui');
    await page.getByLabel('Payload').fill('hello');
    await page.getByRole('button', { name: 'Dispatch' }).click();
    await launched.getByRole('link', { name: /^ui-param\/dispatch-/ }).waitFor();
    await page.getByRole('table', { name: 'Runs' }).getByRole('cell', { name: 'dispatch', exact: true }).waitFor();
    const child = await client.getJob((await client.jobRuns('ui-param')).runs[0].childId!);
    assert.equal(child.meta?.who, 'ui', 'the meta sent');
  });

  it('keeps each jobs row on one line, moves by keyboard, switches relative and absolute times, takes id prefixes in URLs, writes out an allocation’s usage', async () => {
    await navigate(page, '/ui/');
    await page.locator('h1').first().waitFor();
    await page.keyboard.press('g');
    await page.keyboard.press('j');
    await page.waitForURL(/\/ui\/jobs$/);
    const rows = page.locator('[data-testid="jobs-table"] .vrow:not(.head)');
    await rows.first().waitFor();
    // No cell wraps or spills out of its fixed-height row (the long counts end in an ellipsis).
    const spills = await page.locator('[data-testid="jobs-table"] .vrow:not(.head) [role="cell"]').evaluateAll((cells) =>
      cells.filter((c) => c.getBoundingClientRect().height > 24 || c.scrollHeight > c.clientHeight + 1).map((c) => c.textContent));
    assert.deepEqual(spills, [], 'every cell on one line');
    assert.ok((await page.getByTestId('job-count').allInnerTexts()).some((t) => t.includes('complete')), 'a row with a long count is among them');

    await page.keyboard.press('?');
    const keys = page.getByRole('dialog', { name: 'Keyboard' });
    await keys.waitFor();
    assert.match(await keys.innerText(), /g\s*j\s*Jobs/, 'the keys listed');
    await page.keyboard.press('Escape');
    await keys.waitFor({ state: 'hidden' });
    await page.keyboard.press('/');
    assert.equal(await page.evaluate('document.activeElement?.getAttribute("type")'), 'search', '/ focuses the search box');
    await page.locator('main').click({ position: { x: 5, y: 5 } });
    await page.keyboard.press('j');
    await page.keyboard.press('j');
    const second = await rows.nth(1).locator('a').innerText();
    await eventually('the second row focused', async () => (await page.evaluate('document.activeElement?.textContent')) === second);
    await page.keyboard.press('Enter');
    await page.waitForURL(new RegExp(`/ui/jobs/${encodeURIComponent(second)}$`));

    await navigate(page, '/ui/jobs/ui-web');
    const time = page.getByRole('table', { name: 'Allocations' }).locator('time').first();
    assert.match(await time.innerText(), /ago$/);
    await page.keyboard.press('t');
    await eventually('absolute times', async () => /\d{4}/.test(await time.innerText()));
    assert.match((await time.getAttribute('title')) ?? '', /ago$/, 'the relative time on hover');
    await page.getByRole('button', { name: 'Absolute times' }).click();
    await eventually('relative times again', async () => /ago$/.test(await time.innerText()));

    const alloc = (await client.jobAllocations('ui-web')).value.find((a) => a.clientStatus === 'running')!;
    const [node] = (await client.listNodes()).value;
    await navigate(page, `/ui/allocations/${alloc.id.slice(0, 8)}`);
    await page.getByRole('heading', { name: new RegExp(alloc.id.slice(0, 8)) }).waitFor();
    // Its live usage, written out beside the chart, against what it reserves.
    await page.getByTestId('usage-now').getByText(/^Now: cpu [\d.]+ %, memory [\d.]+ MiB of 16 MiB reserved$/).waitFor();
    await page.getByRole('link', { name: node.name, exact: true }).click();
    await page.waitForURL(new RegExp(`/ui/nodes\\?node=${node.id.slice(0, 8)}$`));
    await page.getByTestId(`node-${node.name}`).waitFor();
    await navigate(page, '/ui/nodes?node=zzzz');
    await page.getByRole('alert').getByText('No node has the name or id prefix').waitFor();
  });

  it('passes axe-core on every page, light and dark, with no critical or serious violation', async () => {
    const alloc = (await client.jobAllocations('ui-web')).value[0];
    const paths = ['/ui/', '/ui/jobs', '/ui/jobs/ui-web', '/ui/jobs/ui-web?tab=versions', '/ui/jobs/ui-web?tab=deployments', '/ui/jobs/ui-web?tab=evaluations', '/ui/jobs/ui-param?tab=runs', '/ui/run', `/ui/allocations/${alloc.id}`, '/ui/nodes', '/ui/topology', '/ui/services', '/ui/kv/app/config', '/ui/dependencies', '/ui/events', '/ui/servers'];
    const found: string[] = [];
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      for (const p of paths) {
        await navigate(page, p);
        await page.locator('h1').first().waitFor();
        await page.waitForTimeout(150);
        for (const v of await seriousViolations(page)) found.push(`${scheme} ${p}: ${v.id} (${v.impact}, ${v.nodes} elements): ${v.help}`);
      }
    }
    assert.deepEqual(found, []);
  });

  it('drains a node from the nodes page', async () => {
    await navigate(page, '/ui/nodes');
    const row = page.getByTestId('node-dev');
    await row.getByRole('button', { name: 'Drain' }).click();
    // A drain marks the node ineligible at once; with nowhere to move its allocations to, it ends soon after.
    await row.getByText('ineligible', { exact: true }).waitFor();
    const [node] = (await client.listNodes()).value;
    assert.equal(node.eligible, false, 'the node takes no new work');
    const finished = ['complete', 'failed', 'lost'];
    await eventually('its live allocations to be moved off', async () => (await client.nodeAllocations(node.id)).value.every((a) => a.desiredStatus === 'stop' || finished.includes(a.clientStatus)));
    assert.deepEqual(pageErrors, [], 'no uncaught error on any page');
  });
});

describe('the web UI with ACLs on', { skip: problem }, () => {
  it('asks for a token when the API answers 401, keeps it in session storage only, then shows the cluster', async (t) => {
    const dev = await startDev({ driver: 'process', args: ['--acl'] });
    const browser = await launchBrowser();
    t.after(async () => {
      await browser.close();
      await dev.cleanup();
    });
    const { secretId } = await new BerthClient({ address: dev.addr, token: '' }).aclBootstrap();
    const page = await browser.newPage();
    await open(page, `${dev.addr}/ui/nodes`);
    const prompt = page.getByRole('form', { name: 'ACL token' });
    await prompt.getByLabel('Secret ID').fill(secretId!);
    await prompt.getByRole('button', { name: 'Use token' }).click();
    await page.getByTestId('node-dev').waitFor();
    assert.equal(await prompt.count(), 0, 'the prompt is gone');
    assert.equal(await page.evaluate(`sessionStorage.getItem('berth.token')`), secretId);
    assert.equal(await page.evaluate('localStorage.length'), 0, 'nothing kept beyond the tab');

    // The exec terminal carries the token too (as a WebSocket subprotocol).
    const client = new BerthClient({ address: dev.addr, token: secretId });
    await client.registerJob({ id: 'acl-shell', groups: [{ name: 'g', tasks: [{ name: 'sh', driver: 'process', config: { command: '/bin/sh', args: ['-c', 'sleep 600'] }, resources: { cpu: 0.05, memory: '16MiB' } }] }] });
    const alloc = await eventually('a running allocation', async () => (await client.jobAllocations('acl-shell')).value.find((a: Allocation) => a.clientStatus === 'running'));
    await navigate(page, `/ui/allocations/${alloc.id}`);
    await page.getByRole('button', { name: 'Open terminal' }).click();
    await page.getByText(/in sh: connected/).waitFor();
    await page.keyboard.type('echo hi\n');
    await eventually('hi in the terminal', async () => (await page.locator('.xterm-rows').innerText()).split('\n').some((l) => l.trim() === 'hi'));
  });
  it('does not offer what a read-only token may not do', async (t) => {
    const dev = await startDev({ driver: 'process', args: ['--acl'] });
    const browser = await launchBrowser();
    t.after(async () => {
      await browser.close();
      await dev.cleanup();
    });
    const { secretId: root } = await new BerthClient({ address: dev.addr, token: '' }).aclBootstrap();
    const admin = new BerthClient({ address: dev.addr, token: root });
    await admin.applyAclPolicy('readonly', 'jobs:\n  "*": [read]\nnodes: [read]\nkv:\n  "": [read]\nevents: [read]\nservices: [read]\n');
    const { secretId: reader } = await admin.createAclToken({ description: 'reader', policies: ['readonly'] });
    await admin.registerJob({ id: 'ro-web', groups: [{ name: 'g', tasks: [{ name: 'sh', driver: 'process', config: { command: '/bin/sh', args: ['-c', 'sleep 600'] }, resources: { cpu: 0.05, memory: '16MiB' } }] }] });
    await new DiscoveryClient(admin.servers).kvPut('app/ro', 'v1');
    const page = await browser.newPage();

    // Every authorize request answered, and none new for a moment: what is offered is settled.
    let asking = 0;
    page.on('request', (r) => void (r.url().endsWith('/v1/acl/authorize') && asking++));
    page.on('requestfinished', (r) => void (r.url().endsWith('/v1/acl/authorize') && asking--));
    const settled = async (): Promise<void> => {
      await page.waitForTimeout(200);
      await eventually('the token’s answers', async () => asking === 0);
    };
    /** Open a page with a token. */
    const visit = async (path: string, token: string): Promise<void> => {
      await page.goto(`${dev.addr}/ui/`);
      await page.evaluate(`sessionStorage.setItem('berth.token', ${JSON.stringify(token)})`);
      await open(page, `${dev.addr}${path}`);
      await page.locator('h1').first().waitFor();
    };
    const actions = async (): Promise<string[]> => {
      await settled();
      const names = ['Stop', 'Purge', 'Scale', 'Edit', 'Drain', 'Make ineligible', 'Run a job', 'Save (CAS)', 'Delete (CAS)'];
      const shown: string[] = [];
      for (const name of names) if ((await page.getByRole('button', { name, exact: true }).or(page.getByRole('link', { name, exact: true })).count()) > 0) shown.push(name);
      return shown;
    };
    const seen: Record<string, string[]> = {};
    for (const [who, token] of [['root', root!], ['reader', reader!]] as const) {
      await visit('/ui/jobs/ro-web', token);
      await page.getByRole('table', { name: 'Groups' }).waitFor();
      if (who === 'root') await page.getByRole('button', { name: 'Stop', exact: true }).waitFor();
      const onJob = await actions();
      await visit('/ui/nodes', token);
      await page.getByTestId('node-dev').waitFor();
      const onNodes = await actions();
      await visit('/ui/jobs', token);
      await page.getByRole('link', { name: 'ro-web' }).waitFor();
      const onJobs = await actions();
      await visit('/ui/kv/app/ro', token);
      await page.getByRole('textbox', { name: /Value of app\/ro/ }).waitFor();
      seen[who] = [...onJob, ...onNodes, ...onJobs, ...(await actions())];
    }
    assert.deepEqual(seen.root, ['Stop', 'Purge', 'Scale', 'Edit', 'Drain', 'Make ineligible', 'Run a job', 'Save (CAS)', 'Delete (CAS)'], 'a management token is offered everything');
    assert.deepEqual(seen.reader, [], 'a read-only token is offered no action');
  });
});

describe('the web UI when the server goes away', { skip: problem }, () => {
  it('shows the lost-connection banner while the server is down, and resumes by itself once it is back', async (t) => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'berth-ui-lost-'));
    const port = await freePort();
    let dev = await startDev({ driver: 'process', dataDir, port });
    const browser = await launchBrowser();
    t.after(async () => {
      await browser.close();
      await dev.cleanup();
      await rm(dataDir, { recursive: true, force: true });
    });
    const client = new BerthClient({ address: dev.addr });
    const job = (id: string): object => ({ id, type: 'batch', groups: [{ name: 'g', tasks: [{ name: 't', driver: 'process', config: { command: '/bin/sh', args: ['-c', 'exit 0'] }, resources: { cpu: 0.05, memory: '16MiB' } }] }] });
    await client.registerJob(job('before-1'));
    const page = await browser.newPage();
    await open(page, `${dev.addr}/ui/jobs`);
    await page.getByRole('link', { name: 'before-1' }).waitFor();
    await page.evaluate('window.stayed = true');
    const banner = page.getByRole('status').filter({ hasText: 'Lost the connection' });
    assert.equal(await banner.count(), 0, 'no banner while the server answers');

    assert.equal(await dev.stop(), 0, 'a clean stop');
    await banner.waitFor({ timeout: 15_000 });

    dev = await startDev({ driver: 'process', dataDir, port });
    await banner.waitFor({ state: 'detached', timeout: 15_000 });
    await client.registerJob(job('after-1'));
    await page.getByRole('link', { name: 'after-1' }).waitFor({ timeout: 10_000 });
    assert.equal(await page.evaluate('window.stayed'), true, 'the page resumed without a reload');
  });
});
