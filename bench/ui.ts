/**
 * bench/ui.ts: the web UI's figures (issue 18), in headless Chromium against `berth dev`:
 *   first_page_kb    JS the first page loads, gzip (target <= 250)
 *   max_lazy_kb      the largest chunk loaded later with its page, gzip (target <= 150 each)
 *   dom_rows         rows in the DOM of the jobs table with 2,000 jobs (target < 100)
 *   scale_p50/p99_ms a scale through the API until the new count is drawn on the job page, over
 *                    50 scales (target p99 <= 300)
 *   nav_ms / fetch_ms navigation to /ui/jobs until the table is drawn, against the same Chromium
 *                    fetching /v1/jobs alone (median of a few)
 *
 *   npm run build && npx tsx bench/ui.ts [--quick]
 * The last line printed is one JSON object with those fields.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { BerthClient } from '../src/api/index.ts';
import { startDev } from '../test/harness/berth.ts';
import { launchBrowser, open } from '../test/harness/browser.ts';

const { values } = parseArgs({ options: { quick: { type: 'boolean' } } });
const quick = values.quick ?? false;
const JOBS = 2_000;
const SCALES = 50;
const NAVS = quick ? 3 : 7;
const ui = path.resolve(import.meta.dirname, '../dist/ui');
const log = (s: string): void => void process.stderr.write(s + '\n');

/** The gzip size of the entry script and what index.html preloads, and of each other chunk, in KB. */
async function sizes(): Promise<{ firstPage: number; lazy: Record<string, number> }> {
  const html = await readFile(path.join(ui, 'index.html'), 'utf8');
  const first = [...html.matchAll(/(?:src|href)="\/ui\/(assets\/[^"]+\.js)"/g)].map((m) => m[1]);
  const kb = async (f: string): Promise<number> => (await stat(path.join(ui, `${f}.gz`))).size / 1024;
  const all = (await readdir(path.join(ui, 'assets'))).filter((f) => f.endsWith('.js')).map((f) => `assets/${f}`);
  let firstPage = 0;
  for (const f of first) firstPage += await kb(f);
  const lazy: Record<string, number> = {};
  for (const f of all.filter((f) => !first.includes(f))) lazy[f] = Math.round(await kb(f));
  return { firstPage: Math.round(firstPage), lazy };
}

const quantile = (xs: number[], q: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];
const median = (xs: number[]): number => quantile(xs, 0.5);

/** Register `n` jobs of count 0, 16 at a time (they need no placement: the table is what is measured). */
async function registerMany(client: BerthClient, n: number): Promise<void> {
  const spec = (id: string): object => ({ id, groups: [{ name: 'g', count: 0, tasks: [{ name: 't', driver: 'process', config: { command: '/bin/true' } }] }] });
  let next = 0;
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (next < n) await client.registerJob(spec(`job-${String(next++).padStart(4, '0')}`));
  }));
}

const s = await sizes();
log(`first page: ${s.firstPage} KB gzip; lazy chunks: ${Object.entries(s.lazy).map(([f, k]) => `${path.basename(f)} ${k}`).join(', ')}`);
const dev = await startDev({ driver: 'process' });
const browser = await launchBrowser();
try {
  const client = new BerthClient({ address: dev.addr });
  const t0 = Date.now();
  await registerMany(client, JOBS);
  log(`${JOBS} jobs registered in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });

  // Navigation to the drawn table against a bare fetch of the same list, alternating.
  const nav: number[] = [];
  const bare: number[] = [];
  for (let i = 0; i < NAVS; i++) {
    await open(page, `${dev.addr}/ui/nothing`);
    bare.push(Number(await page.evaluate(`(async () => { const t = performance.now(); await (await fetch('/v1/jobs')).json(); return performance.now() - t; })()`)));
    await open(page, `${dev.addr}/ui/jobs`);
    await page.waitForSelector('[aria-rowindex="2"]');
    nav.push(Number(await page.evaluate('performance.now()')));
  }
  const rows = Number(await page.evaluate(`document.querySelectorAll('[data-testid=jobs-table] [role=row]').length`));
  log(`jobs table: ${rows} rows in the DOM for ${JOBS} jobs; drawn ${median(nav).toFixed(0)} ms after navigation, /v1/jobs alone ${median(bare).toFixed(0)} ms`);

  // A scale from the API until the job page shows the new desired count.
  await client.registerJob({ id: 'scaled', groups: [{ name: 'g', count: 0, tasks: [{ name: 't', driver: 'process', config: { command: '/bin/true' } }] }] });
  await open(page, `${dev.addr}/ui/jobs/scaled`);
  await page.waitForSelector('[data-testid=desired-g]');
  const lat: number[] = [];
  for (let i = 1; i <= SCALES; i++) {
    const count = i % 2 === 0 ? 0 : 1;
    const shown = page.evaluate(`new Promise((resolve) => { const check = () => document.querySelector('[data-testid=desired-g]')?.textContent === '${count}' ? (resolve(Date.now()), true) : false; if (check()) return; const o = new MutationObserver(() => check() && o.disconnect()); o.observe(document.body, { subtree: true, childList: true, characterData: true }); })`);
    const start = Date.now();
    await client.scaleJob('scaled', 'g', count);
    lat.push(Number(await shown) - start);
  }
  log(`scale to screen over ${SCALES}: p50 ${quantile(lat, 0.5)} ms, p99 ${quantile(lat, 0.99)} ms`);
  const maxLazy = Math.max(...Object.values(s.lazy));
  console.log(
    JSON.stringify({
      first_page_kb: s.firstPage,
      max_lazy_kb: maxLazy,
      dom_rows: rows,
      jobs: JOBS,
      scale_p50_ms: quantile(lat, 0.5),
      scale_p99_ms: quantile(lat, 0.99),
      nav_ms: Math.round(median(nav)),
      fetch_ms: Math.round(median(bare)),
    }),
  );
} finally {
  await browser.close();
  await dev.cleanup();
}
