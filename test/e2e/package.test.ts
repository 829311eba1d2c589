import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { eventually, freePorts } from '../harness/berth.ts';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');
const pkg = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8')) as { version: string };

/**
 * The environment of a user's shell: no npm_* variables from the `npm test` around this run, and
 * no node_modules/.bin on PATH, so `node` is the system's (20 on this machine) and the installed
 * berth must bring its own Node 24.
 */
function userEnv(prefix: string): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k) && !k.startsWith('BERTH_') && k !== 'NODE_OPTIONS'));
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter((d) => !d.includes('node_modules'));
  return { ...env, PATH: [path.join(prefix, 'bin'), ...dirs].join(path.delimiter) };
}

describe('the npm package', { timeout: 600_000 }, () => {
  let tmp = '';
  let prefix = '';
  let tarball = '';
  let files: string[] = [];
  before(async () => {
    tmp = await mkdtemp(path.join(tmpdir(), 'berth-package-'));
    prefix = path.join(tmp, 'prefix');
    await mkdir(prefix);
    // `npm pack` runs `prepare`, the build, first; its output precedes the JSON.
    const packed = await run('npm', ['pack', '--json', '--pack-destination', tmp], { cwd: root, env: userEnv(prefix), maxBuffer: 16 << 20 });
    const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('[\n'))) as { filename: string; files: { path: string }[] }[];
    tarball = path.join(tmp, info.filename);
    files = info.files.map((f) => f.path);
    // As a user installs it, into an empty prefix; dependencies come from npm's cache where it has them.
    await run('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', tarball], { cwd: tmp, env: userEnv(prefix), maxBuffer: 16 << 20, timeout: 480_000 });
  });
  after(() => rm(tmp, { recursive: true, force: true }));

  it('ships the build, the README and the licence only', () => {
    const outside = files.filter((f) => !f.startsWith('dist/') && !['bin/berth.js', 'README.md', 'LICENSE', 'package.json'].includes(f));
    assert.deepEqual(outside, []);
    for (const f of ['bin/berth.js', 'dist/main.js', 'dist/worker.js', 'README.md', 'LICENSE']) assert.ok(files.includes(f), `${f} is not in the package: ${files.join(' ')}`);
  });

  it('installed, berth version runs on the packaged Node 24 whatever node is on PATH', async () => {
    const { stdout } = await run('berth', ['version', '--json'], { cwd: tmp, env: userEnv(prefix) });
    const info = JSON.parse(stdout) as { version: string; node: string };
    assert.equal(info.version, pkg.version);
    assert.match(info.node, /^24\./);
  });

  it('installed, berth dev serves the API, runs a job, and stops on SIGTERM', async () => {
    const [port, dnsPort] = await freePorts(2);
    const addr = `http://127.0.0.1:${port}`;
    const args = ['dev', '--data-dir', path.join(tmp, 'dev'), '--http-addr', `127.0.0.1:${port}`, '--dns-addr', `127.0.0.1:${dnsPort}`, '--driver', 'process'];
    const dev = spawn('berth', args, { cwd: tmp, env: userEnv(prefix), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    dev.stdout.on('data', (d: Buffer) => (output += d));
    dev.stderr.on('data', (d: Buffer) => (output += d));
    const exited = new Promise<number | null>((resolve) => dev.on('exit', (code) => resolve(code)));
    try {
      await eventually(`berth dev has a ready node (output so far: ${output})`, async () => {
        const nodes = (await (await fetch(`${addr}/v1/nodes`)).json()) as { status: string }[];
        return nodes.some((n) => n.status === 'ready');
      });
      const spec = { id: 'hello', type: 'batch', groups: [{ name: 'g', tasks: [{ name: 't', driver: 'process', config: { command: '/bin/sh', args: ['-c', 'echo hello from the package'] }, resources: { cpu: '10m', memory: '8Mi' } }] }] };
      const res = await fetch(`${addr}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spec) });
      assert.equal(res.status, 200, await res.text());
      // The installed CLI shows its one allocation complete (the Status column of the allocation row).
      const completed = /^[0-9a-f]{8}\s+[0-9a-f]{8}\s+g\s+0\s+0\s+\w+\s+complete\s/m;
      const { stdout } = await eventually('the batch job completed', async () => {
        const r = await run('berth', ['job', 'status', 'hello'], { cwd: tmp, env: { ...userEnv(prefix), BERTH_ADDR: addr } });
        return completed.test(r.stdout) && r;
      });
      assert.match(stdout, /^ID\s+= hello$/m);
    } finally {
      dev.kill('SIGTERM');
    }
    assert.equal(await exited, 0, output);
  });
});
