import { after, afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { daemonCommands } from './commands/daemons.ts';
import { applyConfigFile } from './config.ts';
import { CliError } from './errors.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-config-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

// The caller's own BERTH_* settings must not leak into these tests; each test's own are undone.
for (const k of Object.keys(process.env)) if (k.startsWith('BERTH_')) delete process.env[k];
afterEach(() => {
  for (const k of Object.keys(process.env)) if (k.startsWith('BERTH_')) delete process.env[k];
});

function configFile(yaml: string): string {
  const file = path.join(tmp, `${Math.random().toString(36).slice(2)}.yaml`);
  fs.writeFileSync(file, yaml);
  return file;
}

/** Parse `args` with the real `berth dev` command, its action replaced: what the action would get. */
async function devOptions(args: string[]): Promise<Record<string, unknown>> {
  const dev = daemonCommands().find((c) => c.name() === 'dev')!;
  let got: Record<string, unknown> | undefined;
  dev.exitOverride().action((opts: Record<string, unknown>) => void (got = opts));
  await dev.parseAsync(args, { from: 'user' });
  return got!;
}

async function configError(yaml: string): Promise<CliError> {
  const err = await devOptions(['--config', configFile(yaml)]).then(
    () => assert.fail('expected the config file to be refused'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof CliError, String(err));
  return err;
}

describe('applyConfigFile', () => {

  it('fills options that neither a flag nor a variable set, parsed as their flags are', async () => {
    const opts = await devOptions(['--config', configFile('data-dir: /srv/berth\nhttp-addr: 0.0.0.0:8000\nlog-level: debug\n')]);
    assert.equal(opts.dataDir, '/srv/berth');
    assert.deepEqual(opts.httpAddr, { host: '0.0.0.0', port: 8000 });
    assert.equal(opts.logLevel, 'debug');
    assert.equal(opts.driver, 'auto', 'the default stays where the file says nothing');
  });

  it('lets a BERTH_* variable win over the file, and a flag win over both', async () => {
    const file = configFile('data-dir: /from/file\nhttp-addr: 0.0.0.0:8000\n');
    process.env.BERTH_DATA_DIR = '/from/env';
    process.env.BERTH_HTTP_ADDR = '127.0.0.1:9000';
    const opts = await devOptions(['--config', file, '--http-addr', '127.0.0.1:9100']);
    assert.equal(opts.dataDir, '/from/env');
    assert.deepEqual(opts.httpAddr, { host: '127.0.0.1', port: 9100 });
  });

  it('reads the file named by BERTH_CONFIG', async () => {
    process.env.BERTH_CONFIG = configFile('data-dir: /via/env/config\n');
    assert.equal((await devOptions([])).dataDir, '/via/env/config');
  });

  it('takes a single file for a list option as a list of one', async () => {
    assert.deepEqual((await devOptions(['--config', configFile('run: examples/web.yaml\n')])).run, ['examples/web.yaml']);
    assert.deepEqual((await devOptions(['--config', configFile('run: [a.yaml, b.yaml]\n')])).run, ['a.yaml', 'b.yaml']);
  });

  it('refuses an unknown setting with exit code 2, naming the known ones', async () => {
    const err = await configError('data-dir: /x\ndatadir: /y\n');
    assert.equal(err.exitCode, 2);
    assert.match(err.message, /unknown setting "datadir"/);
    assert.match(err.message, /known: .*data-dir, .*http-addr, .*dns-addr, .*driver/);
    assert.doesNotMatch(err.message, /known: .*\bconfig\b/, 'a config file cannot name another');
  });

  it('refuses a value its flag would refuse, with exit code 2 and the reason', async () => {
    const level = await configError('log-level: loud\n');
    assert.equal(level.exitCode, 2);
    assert.match(level.message, /setting "log-level".*loud/);
    const addr = await configError('http-addr: nowhere\n');
    assert.equal(addr.exitCode, 2);
    assert.match(addr.message, /setting "http-addr": expected host:port/);
    assert.equal((await configError('data-dir:\n')).exitCode, 2, 'an empty value');
  });

  it('refuses a file that is not a mapping, or cannot be read, with exit code 2', async () => {
    assert.equal((await configError('- a\n- b\n')).exitCode, 2);
    const err = await devOptions(['--config', path.join(tmp, 'missing.yaml')]).catch((e: unknown) => e);
    assert.ok(err instanceof CliError);
    assert.equal(err.exitCode, 2);
    assert.match(err.message, /Cannot read config file .*missing\.yaml/);
  });

  it('takes a switch only as true or false', async () => {
    const cmd = new Command('x').exitOverride().option('--config <file>').option('--detach');
    cmd.hook('preAction', (c) => applyConfigFile(c)).action(() => {});
    await cmd.parseAsync(['--config', configFile('detach: false\n')], { from: 'user' });
    assert.equal(cmd.opts().detach, false, 'not the truthy string "false"');
    await assert.rejects(cmd.parseAsync(['--config', configFile('detach: "yes"\n')], { from: 'user' }), /must be true or false/);
  });

  it("reads an agent's reserve and port range from the file, as its flags would", async () => {
    const agent = daemonCommands().find((c) => c.name() === 'agent')!;
    let got: Record<string, unknown> | undefined;
    agent.exitOverride().action((opts: Record<string, unknown>) => void (got = opts));
    await agent.parseAsync(['--config', configFile('reserve-cpu: 500m\nreserve-memory: 1Gi\nport-range: 21000-21999\n'), '--reserve-cpu', '0.25'], { from: 'user' });
    assert.deepEqual([got!.reserveCpu, got!.reserveMemory, got!.portRange], [0.25, 1024, { min: 21000, max: 21999 }], 'the flag wins over the file');
    assert.equal(got!.address, undefined, 'no --address: the agent finds the one that reaches the server');
    assert.equal(got!.httpAddr, undefined);
    const bad = daemonCommands().find((c) => c.name() === 'agent')!.exitOverride().action(() => {});
    const err = await bad.parseAsync(['--config', configFile('reserve-memory: 512M\n')], { from: 'user' }).catch((e: unknown) => e);
    assert.ok(err instanceof CliError, String(err));
    assert.equal(err.exitCode, 2);
    assert.match(err.message, /setting "reserve-memory".*unknown size unit "M".*512Mi/);
  });

  it('takes --ingress repeated or comma-separated (as BERTH_INGRESS), and refuses an address given twice', async () => {
    const agent = daemonCommands().find((c) => c.name() === 'agent')!;
    let got: Record<string, unknown> | undefined;
    agent.exitOverride().configureOutput({ writeErr: () => {} }).action((opts: Record<string, unknown>) => void (got = opts));
    await agent.parseAsync(['--ingress', '127.0.0.1:8080, 10.0.0.1:8080', '--ingress', '[::1]:8080'], { from: 'user' });
    assert.deepEqual(got!.ingress, [{ host: '127.0.0.1', port: 8080 }, { host: '10.0.0.1', port: 8080 }, { host: '::1', port: 8080 }]);
    const twice = daemonCommands().find((c) => c.name() === 'agent')!.exitOverride().configureOutput({ writeErr: () => {} }).action(() => {});
    const err = await twice.parseAsync(['--ingress', '127.0.0.1:8080', '--ingress', '127.0.0.1:8080'], { from: 'user' }).catch((e: unknown) => e);
    assert.match(String((err as Error).message), /127\.0\.0\.1:8080 is given twice; give each address once/);
  });
});
