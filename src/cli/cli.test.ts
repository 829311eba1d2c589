import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

const bin = path.resolve(import.meta.dirname, '../../bin/berth.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-cli-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the real CLI, as a user would, without the caller's BERTH_* settings. */
function berth(args: string[], env: Record<string, string> = {}): Promise<Result> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BERTH_')));
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd: tmp, env: { ...clean, NO_COLOR: '1', ...env }, timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

describe('berth CLI', { concurrency: 2 }, () => {
  // A server that only counts requests: commands that must not reach a server point at it.
  let requests = 0;
  let addr = '';
  const counter = http.createServer((_req, res) => {
    requests++;
    res.writeHead(500).end();
  });
  before(async () => {
    await new Promise<void>((resolve) => counter.listen(0, '127.0.0.1', resolve));
    addr = `http://127.0.0.1:${(counter.address() as { port: number }).port}`;
  });
  after(() => new Promise<void>((resolve) => counter.close(() => resolve())));

  it('exits 2 on an unknown command and suggests help', async () => {
    const r = await berth(['frob']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown command 'frob'/);
    assert.match(r.stderr, /--help/);
  });

  it('exits 2 when job run is given no file', async () => {
    const r = await berth(['job', 'run']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /missing required argument 'file'/);
  });

  it('exits 2 on an unknown flag', async () => {
    const r = await berth(['job', 'status', '--frob']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown option '--frob'/);
  });

  it('exits 2 on node metadata that is not key=value, naming the fix', async () => {
    const r = await berth(['agent', '--meta', 'rack', '--server', 'http://127.0.0.1:1']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--meta.*expected key=value/);
  });

  it('exits 1 when no server answers, saying so and pointing at BERTH_ADDR', async () => {
    const r = await berth(['job', 'status'], { BERTH_ADDR: 'http://127.0.0.1:1' });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^Error: Cannot reach the berth server at http:\/\/127\.0\.0\.1:1/);
    assert.match(r.stderr, /BERTH_ADDR/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  });

  it('lists its commands in --help and exits 0', async () => {
    const r = await berth(['--help']);
    assert.equal(r.code, 0);
    for (const cmd of ['dev', 'server', 'agent', 'job', 'alloc', 'node']) assert.match(r.stdout, new RegExp(`^  ${cmd}\\b`, 'm'), cmd);
  });

  it('lists the flags of berth dev in its --help, with readable defaults', async () => {
    const r = await berth(['dev', '--help']);
    assert.equal(r.code, 0);
    for (const flag of ['--data-dir', '--http-addr', '--dns-addr', '--driver']) assert.match(r.stdout, new RegExp(`^  ${flag} `, 'm'), flag);
    // Help text wraps at the terminal width, which differs between machines.
    assert.match(r.stdout.replace(/\s+/g, ' '), /default: 127\.0\.0\.1:7460/);
  });

  it('exits 1 with "no such file" for a job file that does not exist', async () => {
    const r = await berth(['job', 'run', 'missing.yaml'], { BERTH_ADDR: addr });
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'Error: Cannot read job file missing.yaml: no such file\n');
  });

  it('exits 1 on an invalid job file, listing every problem by path, without contacting the server', async () => {
    const file = path.join(tmp, 'broken.yaml');
    fs.writeFileSync(
      file,
      ['id: Broken', 'groups:', '  - name: web', '    count: -1', '    tasks:', '      - name: t', '        driver: docker', '        resources: {memory: -5}', ''].join('\n'),
    );
    const r = await berth(['job', 'run', file], { BERTH_ADDR: addr });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^Error: Invalid job spec .*broken\.yaml/);
    for (const p of ['id', 'groups\\[0\\]\\.count', 'groups\\[0\\]\\.tasks\\[0\\]\\.config\\.image', 'groups\\[0\\]\\.tasks\\[0\\]\\.resources\\.memory']) {
      assert.match(r.stderr, new RegExp(p), p);
    }
    assert.equal(requests, 0, 'nothing was sent');
  });
});
