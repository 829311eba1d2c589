/**
 * A real browser for the UI's tests, benchmark and screenshots: Debian's Chromium, headless,
 * driven by playwright-core. Without Chromium the caller skips; under CI=true that fails instead.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { readFile } from 'node:fs/promises';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Where Debian installs Chromium (apt-get install chromium). */
export const CHROMIUM = process.env.BERTH_TEST_CHROMIUM ?? '/usr/bin/chromium';

/** Why there is no browser, or undefined when there is one; under CI=true a missing one throws. */
export function browserProblem(): string | undefined {
  if (existsSync(CHROMIUM)) return undefined;
  const why = `no Chromium at ${CHROMIUM}: apt-get install -y chromium (or set BERTH_TEST_CHROMIUM)`;
  if (process.env.CI === 'true') throw new Error(`Cannot run the browser tests: ${why}`);
  return why;
}

/** Start Chromium headless. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
}

/**
 * Open `url`. Chromium aborts a navigation with ERR_NETWORK_CHANGED when an interface comes or goes
 * (other tests on this machine make network namespaces and bridges): such a load is tried again.
 */
export async function open(page: Page, url: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await page.goto(url);
      return;
    } catch (err) {
      if (attempt >= 5 || !/NETWORK_CHANGED|chrome-error|interrupted/.test(String(err))) throw err;
      await page.waitForTimeout(200);
    }
  }
}

/** Move within the single-page app without loading the page again, as a click on a link does. */
export async function navigate(page: Page, path: string): Promise<void> {
  // Browser code as text: the tests' TypeScript has no DOM types.
  await page.evaluate(`history.pushState({}, '', ${JSON.stringify(path)}); dispatchEvent(new PopStateEvent('popstate'))`);
}

const requireHere = createRequire(import.meta.url);
let axeSource: string | undefined;

/** One accessibility problem axe-core found. */
export interface AxeViolation {
  id: string;
  impact: string;
  help: string;
  nodes: number;
}

/** Run axe-core on the page: its critical and serious violations (WCAG 2 A and AA rules). */
export async function seriousViolations(page: Page): Promise<AxeViolation[]> {
  axeSource ??= await readFile(requireHere.resolve('axe-core/axe.min.js'), 'utf8');
  if (!(await page.evaluate(`'axe' in window`))) await page.addScriptTag({ content: axeSource });
  const violations = (await page.evaluate(`axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }).then((r) => r.violations)`)) as {
    id: string;
    impact: string;
    help: string;
    nodes: unknown[];
  }[];
  return violations.filter((v) => v.impact === 'critical' || v.impact === 'serious').map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.length }));
}
