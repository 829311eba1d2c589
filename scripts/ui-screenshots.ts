/**
 * The pictures of the web UI in docs/ui/ (shown in README.md): every page, light and dark, of a
 * realistic cluster (test/harness/ui-cluster.ts) in headless Chromium.
 *
 *   npm run build && node --import tsx scripts/ui-screenshots.ts
 */
import path from 'node:path';
import { stringify } from 'yaml';
import { specOf } from '../src/ui/spec-text.ts';
import { launchBrowser, navigate, open } from '../test/harness/browser.ts';
import { eventually } from '../test/harness/berth.ts';
import { startUiCluster } from '../test/harness/ui-cluster.ts';

const out = path.resolve(import.meta.dirname, '../docs/ui');
const cluster = await startUiCluster();
const browser = await launchBrowser();
try {
  const { client } = cluster;
  await eventually('the failing check to turn critical', async () => (await fetch(`${cluster.dev.addr}/v1/health/service/search-http`).then((r) => r.json()) as { Checks: { Status: string }[] }[]).some((e) => e.Checks.some((c) => c.Status === 'critical')), 60_000);
  await eventually('the chain to have run', async () => (await client.dependencyGraph()).nodes.some((n) => n.last === 'failed'), 60_000);
  // A run in the periodic job's history, beside its next launches.
  await client.forcePeriodic('report-cron');
  const web = (await client.jobAllocations('web')).value.find((a) => a.clientStatus === 'running')!;
  const pages: [string, string][] = [
    ['overview', '/ui/'],
    ['jobs', '/ui/jobs'],
    ['job', '/ui/jobs/checkout-api?tab=deployments'],
    ['job-versions', '/ui/jobs/checkout-api?tab=versions'],
    ['job-runs', '/ui/jobs/report-cron?tab=runs'],
    ['job-evaluations', '/ui/jobs/ml-trainer?tab=evaluations'],
    ['run', '/ui/jobs/web/edit'],
    ['allocation', `/ui/allocations/${web.id}`],
    ['nodes', '/ui/nodes'],
    ['topology', '/ui/topology'],
    ['services', '/ui/services'],
    ['kv', '/ui/kv/config/web/feature-flags'],
    ['dependencies', '/ui/dependencies'],
    ['events', '/ui/events'],
    ['servers', '/ui/servers'],
  ];
  for (const scheme of ['light', 'dark'] as const) {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 }, colorScheme: scheme });
    await open(page, `${cluster.dev.addr}/ui/`);
    for (const [name, url] of pages) {
      await navigate(page, url);
      await page.locator('h1').first().waitFor();
      if (name === 'run') {
        // An edit, so the plan has a diff to show.
        const editor = page.locator('.cm-content');
        await editor.waitFor();
        await editor.fill(stringify(specOf(await client.getJob('web'))).replace('count: 3', 'count: 5'));
        await page.getByTestId('plan').waitFor();
      }
      // Let live data, charts and the graph settle.
      await page.waitForTimeout(name === 'allocation' ? 3_500 : 1_200);
      await page.screenshot({ path: path.join(out, `${name}-${scheme}.png`) });
      process.stdout.write(`docs/ui/${name}-${scheme}.png\n`);
    }
    await page.close();
  }
} finally {
  await browser.close();
  await cluster.stop();
}
