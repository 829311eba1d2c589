/**
 * The test command (`npm test`): lint and type-check, then the unit tests, then the end-to-end
 * tests against one private dockerd started for the whole run (BERTH_TEST_DOCKER_HOST overrides).
 * Under CI=true a dockerd that cannot start fails the run.
 *
 *   npm test               everything
 *   npm test -- --unit     unit tests only (no dockerd, no lint)
 *   npm test -- FILE...    just these test files (dockerd started when one is under test/)
 *
 * Tests import the TypeScript sources through tsx, but the CLI they spawn (bin/berth.js, in
 * src/cli/cli.test.ts and test/harness) runs the build, as an installed berth does: so every run
 * builds first (esbuild, about a second). `node --import tsx --test FILE` alone does not: after a
 * change to src/, run `npm run build` before it.
 */
import { spawnSync, spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startDockerd, type DockerEnv } from '../test/harness/dockerd.ts';

const root = path.resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const unitOnly = args.includes('--unit');
const files = args.filter((a) => !a.startsWith('--'));

function find(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (name === 'node_modules') continue;
    if (statSync(p).isDirectory()) out.push(...find(p));
    else if (name.endsWith('.test.ts')) out.push(path.relative(root, p));
  }
  return out.sort();
}

function step(name: string, cmd: string, cmdArgs: string[]): void {
  const started = Date.now();
  process.stdout.write(`\n== ${name}\n`);
  const r = spawnSync(cmd, cmdArgs, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    process.stdout.write(`\n== ${name} FAILED (exit ${r.status})\n`);
    process.exit(1);
  }
  process.stdout.write(`== ${name} ok (${((Date.now() - started) / 1000).toFixed(1)}s)\n`);
}

/** Totals over every test run, for the closing line. */
const totals = { passed: 0, failed: 0, skipped: 0 };

/** Run node's test runner on files (spec output for people, TAP to a file for the totals). */
async function runTests(testFiles: string[], env: NodeJS.ProcessEnv, concurrency: number): Promise<number> {
  const tapDir = await mkdtemp(path.join(tmpdir(), 'berth-tap-'));
  const tap = path.join(tapDir, 'results.tap');
  const code = await new Promise<number>((resolve) => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '--test',
        `--test-concurrency=${concurrency}`,
        '--test-reporter=spec',
        '--test-reporter-destination=stdout',
        '--test-reporter=tap',
        `--test-reporter-destination=${tap}`,
        ...testFiles,
      ],
      { cwd: root, stdio: 'inherit', env },
    );
    child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0)));
  });
  const text = await readFile(tap, 'utf8').catch(() => '');
  const count = (name: string): number => Number(new RegExp(`^# ${name} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
  totals.passed += count('pass');
  totals.failed += count('fail') + count('cancelled');
  totals.skipped += count('skipped') + count('todo');
  await rm(tapDir, { recursive: true, force: true });
  return code;
}

const unit = files.length ? files.filter((f) => f.startsWith('src/')) : find(path.join(root, 'src'));
const e2e = unitOnly ? [] : files.length ? files.filter((f) => !f.startsWith('src/')) : find(path.join(root, 'test'));

if (!unitOnly && files.length === 0) {
  step('lint (eslint: layers and style)', process.execPath, [path.join(root, 'node_modules/eslint/bin/eslint.js'), '.']);
  step('import cycles (madge)', process.execPath, [
    path.join(root, 'node_modules/madge/bin/cli.js'),
    '--circular',
    '--extensions',
    'ts',
    '--ts-config',
    'tsconfig.json',
    '--no-spinner',
    'src',
  ]);
  step('typecheck (tsc)', process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '--noEmit', '-p', '.']);
  // The web UI is checked on its own: browser globals, JSX, no Node types.
  step('typecheck the UI (tsc)', process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '--noEmit', '-p', 'src/ui']);
}

// The spawned CLI runs dist/: build it from the sources under test.
step('build (dist/ for bin/berth.js)', process.execPath, [path.join(root, 'scripts/build.ts')]);

let docker: DockerEnv | undefined;
const env: NodeJS.ProcessEnv = { ...process.env };
const needsDocker = !unitOnly && (e2e.length > 0 || unit.some((f) => f.includes('docker')));
if (needsDocker) {
  process.stdout.write('\n== starting a private dockerd for the run\n');
  try {
    docker = await startDockerd();
    env.BERTH_TEST_DOCKER_HOST = docker.host;
    env.BERTH_TEST_IMAGE = docker.image;
    process.stdout.write(`== dockerd at ${docker.host}, image ${docker.image}\n`);
  } catch (err) {
    const msg = `Cannot start dockerd for the tests: ${(err as Error).message}`;
    if (process.env.CI === 'true') {
      process.stdout.write(`\n${msg}\nUnder CI a missing Docker engine fails the run (install docker.io; see .ci/run).\n`);
      process.exit(1);
    }
    process.stdout.write(`\n${msg}\nDocker tests will be skipped (they fail under CI=true).\n`);
  }
}

let failed = false;
const stopDocker = async (): Promise<void> => {
  if (!docker) return;
  const started = Date.now();
  process.stdout.write('\n== stopping dockerd\n');
  // Clean-up must not hold the run hostage: past a minute, report it and go on.
  const limit = new Promise<string>((resolve) => setTimeout(() => resolve('did not finish within 60 s'), 60_000).unref());
  const outcome = await Promise.race([
    docker.stop().then(
      () => 'ok',
      (err: unknown) => `failed: ${(err as Error).message}`,
    ),
    limit,
  ]);
  process.stdout.write(`== dockerd stop ${outcome} (${((Date.now() - started) / 1000).toFixed(1)}s)\n`);
  docker = undefined;
};
process.on('SIGINT', () => void stopDocker().then(() => process.exit(130)));
try {
  // Unit tests are many and quick, so they share the cores; end-to-end tests each start
  // servers, agents and containers and run one file at a time.
  const timed = async (name: string, run: () => Promise<number>): Promise<number> => {
    const started = Date.now();
    const code = await run();
    process.stdout.write(`\n== ${name} ${code === 0 ? 'ok' : 'failed'} (${((Date.now() - started) / 1000).toFixed(1)}s)\n`);
    return code;
  };
  if (unit.length) failed = (await timed(`unit tests (${unit.length} files)`, () => runTests([...unit], env, 2))) !== 0 || failed;
  if (e2e.length) failed = (await timed(`end-to-end tests (${e2e.length} files)`, () => runTests(e2e, env, 1))) !== 0 || failed;
} finally {
  await stopDocker();
}
process.stdout.write(`\ntests: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped\n`);
process.exit(failed ? 1 : 0);
