import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
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
    execFile(process.execPath, [bin, ...args], { cwd: tmp, env: { ...clean, NO_COLOR: '1', ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
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

  it('exits 2 on a --service-address-range that is not a CIDR block, naming the flag, and creates no data dir', async () => {
    const dataDir = path.join(tmp, 'range-data');
    const r = await berth(['server', '--data-dir', dataDir, '--http-addr', '127.0.0.1:1', '--service-address-range', '10.0.0.0/31']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^Error: Cannot use service address range "10\.0\.0\.0\/31": expected an IPv4 CIDR block .*--service-address-range/);
    assert.equal(fs.existsSync(dataDir), false);
  });

  it('stops quietly when the reader of its output goes away (`berth ... | head`)', async () => {
    const child = spawn(process.execPath, [bin, 'completion', 'bash'], { cwd: tmp, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(stderr, '');
    assert.equal(code, 0);
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

  it('says what was wrong with a count and shows the usage line, exit 2, contacting no server', async () => {
    const r = await berth(['job', 'scale', 'sleeper', 'g', 'many'], { BERTH_ADDR: addr });
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.equal(
      r.stderr,
      [
        'Error: Cannot scale job "sleeper": the count must be a whole number of allocations, got "many" (for group "g")',
        'Usage: berth job scale [options] <id> <group-or-count> [count]',
        "See 'berth job scale --help'.",
        '',
      ].join('\n'),
    );
    assert.equal(requests, 0, 'nothing was sent');
  });

  it('shows the usage line on every misuse commander finds: a missing argument, too many, a bad choice', async () => {
    for (const [args, problem, usage] of [
      [['job', 'run'], /^Error: missing required argument 'file'$/m, 'Usage: berth job run [options] <file>'],
      [['node', 'status', 'a', 'b'], /^Error: too many arguments for 'status'/m, 'Usage: berth node status [options] [id]'],
      [['completion', 'tcsh'], /^Error: command-argument value 'tcsh' is invalid .* bash, zsh, fish/m, 'Usage: berth completion [options] <shell>'],
    ] as const) {
      const r = await berth([...args]);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.stderr, problem, args.join(' '));
      assert.ok(r.stderr.includes(`${usage}\n`), `${args.join(' ')}: ${r.stderr}`);
    }
  });

  it('says which commands a noun takes when given none, exit 2', async () => {
    const r = await berth(['alloc']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^Error: 'berth alloc' needs a command: one of status, logs, exec, stop, restart, signal$/m);
  });

  it('refuses a signal that is no signal name before asking any server', async () => {
    const r = await berth(['alloc', 'signal', 'abcd1234', '--signal', 'HUP!'], { BERTH_ADDR: addr });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^Error: Cannot signal: "HUP!" is not a signal name/);
    assert.match(r.stderr, /^Usage: berth alloc signal /m);
    assert.equal(requests, 0);
  });

  it('completes commands in a real bash, from the command tree', async () => {
    const script = path.join(tmp, 'berth.bash');
    const generated = await berth(['completion', 'bash']);
    assert.equal(generated.code, 0, generated.stderr);
    fs.writeFileSync(script, generated.stdout);
    const complete = (...words: string[]): string[] => {
      const quoted = words.map((w) => `'${w}'`).join(' ');
      const out = execFileSync('bash', ['-c', `source "$0"; COMP_WORDS=(${quoted}); COMP_CWORD=${words.length - 1}; _berth_completions; printf '%s\n' "\${COMPREPLY[@]}"`, script], { encoding: 'utf8' });
      return out.split('\n').filter(Boolean);
    };
    assert.deepEqual(complete('berth', 'jo'), ['job']);
    assert.deepEqual(complete('berth', 'job', '').sort(), ['deps', 'dispatch', 'graph', 'history', 'init', 'inspect', 'mark-success', 'periodic', 'plan', 'restart', 'revert', 'run', 'runs', 'scale', 'status', 'stop', 'validate']);
    assert.deepEqual(complete('berth', 'alloc', 're'), ['restart']);
    assert.ok(complete('berth', 'job', 'run', '--').includes('--detach'));
    // A job file: bash's own file completion takes over (complete -o default).
    assert.deepEqual(complete('berth', 'job', 'run', ''), []);
    assert.match(execFileSync('bash', ['-c', 'source "$0"; complete -p berth', script], { encoding: 'utf8' }), /complete -o default -F _berth_completions berth/);
  });

  it('colours only on a terminal, and never with NO_COLOR or --no-color', async () => {
    // `script` gives the CLI a pseudo-terminal, as a user's shell would.
    const onTty = (command: string, env: Record<string, string> = {}): string =>
      execFileSync('script', ['-qfc', command, '/dev/null'], { cwd: tmp, encoding: 'utf8', env: { ...process.env, NO_COLOR: '', ...env } });
    const cmd = `${process.execPath} ${bin} job run missing.yaml`;
    const esc = '\u001b[';
    assert.ok(onTty(cmd).includes(`${esc}31mError:${esc}39m Cannot read job file missing.yaml`));
    assert.ok(!onTty(cmd, { NO_COLOR: '1' }).includes(esc));
    assert.ok(!onTty(`${cmd} --no-color`).includes(esc));
    assert.ok(!(await berth(['job', 'run', 'missing.yaml'], { NO_COLOR: '' })).stderr.includes(esc), 'a pipe gets no colour');
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
