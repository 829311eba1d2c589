import { Command, Option } from 'commander';
import fs from 'node:fs/promises';
import { BerthClient, type AclPolicyInfo, type AclTokenInfo } from '../../api/index.ts';
import { CliError } from '../errors.ts';
import { fields, printJson, table, when } from '../output.ts';

/** `berth acl bootstrap|policy|token`: Nomad's ACL commands. */
export function aclCommand(): Command {
  const cmd = new Command('acl').description('Access control: bootstrap, policies and tokens (servers started with --acl)');
  cmd
    .command('bootstrap')
    .description('Create the first management token; works once (see README "Resetting the ACL bootstrap")')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const token = await new BerthClient().aclBootstrap();
      if (opts.json) return printJson(token);
      process.stdout.write(tokenText(token) + '\n');
      process.stderr.write('\nKeep the secret ID: it is shown only now. Use it with --token or BERTH_TOKEN.\n');
    });
  cmd.addCommand(policyCommand());
  cmd.addCommand(tokenCommand());
  return cmd;
}

function policyCommand(): Command {
  const cmd = new Command('policy').description('ACL policies: named sets of rules (YAML or JSON)');
  cmd
    .command('apply')
    .description('Create or replace a policy from a file (- for stdin)')
    .argument('<name>', 'policy name: letters, digits, - and _')
    .argument('<file>', 'the policy document, YAML or JSON')
    .option('--description <text>', 'what the policy is for (default: its description field)')
    .option('--json', 'print JSON')
    .action(async (name: string, file: string, opts: { description?: string; json?: boolean }) => {
      const rules = await readDocument(file);
      const policy = await new BerthClient().applyAclPolicy(name, rules, opts.description);
      if (opts.json) return printJson(policy);
      process.stdout.write(`Applied ACL policy "${policy.name}" (${policy.rules?.length ?? 0} rules).\n`);
    });
  cmd
    .command('list')
    .description('List policies')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const policies = await new BerthClient().aclPolicies();
      if (opts.json) return printJson(policies);
      if (policies.length === 0) return void process.stdout.write('No ACL policies.\n');
      process.stdout.write(table(['Name', 'Description', 'Modified'], policies.map((p) => [p.name, p.description, when(p.modifyTime)])) + '\n');
    });
  cmd
    .command('info')
    .description('Show a policy and its document')
    .argument('<name>', 'policy name')
    .option('--json', 'print JSON')
    .action(async (name: string, opts: { json?: boolean }) => {
      const policy = await new BerthClient().aclPolicy(name);
      if (opts.json) return printJson(policy);
      process.stdout.write(policyText(policy) + '\n');
    });
  cmd
    .command('delete')
    .description('Delete a policy (refused while tokens use it)')
    .argument('<name>', 'policy name')
    .option('--json', 'print JSON')
    .action(async (name: string, opts: { json?: boolean }) => {
      await new BerthClient().deleteAclPolicy(name);
      if (opts.json) return printJson({ deleted: name });
      process.stdout.write(`Deleted ACL policy "${name}".\n`);
    });
  return cmd;
}

function tokenCommand(): Command {
  const cmd = new Command('token').description('ACL tokens: a secret that carries policies');
  const collect = (v: string, all: string[] = []): string[] => [...all, v];
  const common = (c: Command): Command =>
    c
      .option('--description <text>', 'what the token is for')
      .option('--policy <name>', 'a policy the token carries; repeat for several', collect)
      .addOption(new Option('--type <type>', 'client (what its policies allow) or management (everything)').choices(['client', 'management']))
      .option('--ttl <duration>', 'expire after this long: 30m, 12h, 90d')
      .option('--json', 'print JSON');
  common(cmd.command('create').description('Create a token; its secret is shown only now')).action(async (opts: TokenOpts) => {
    const token = await new BerthClient().createAclToken(tokenRequest(opts));
    if (opts.json) return printJson(token);
    process.stdout.write(tokenText(token) + '\n');
  });
  common(cmd.command('update').description('Change a token: description, policies, type, expiry (the secret stays)').argument('<accessor>', 'accessor id, or "anonymous"')).action(
    async (accessor: string, opts: TokenOpts) => {
      const token = await new BerthClient().updateAclToken(accessor, tokenRequest(opts));
      if (opts.json) return printJson(token);
      process.stdout.write(tokenText(token) + '\n');
    },
  );
  cmd
    .command('list')
    .description('List tokens (accessor ids; never secrets)')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const tokens = await new BerthClient().aclTokens();
      if (opts.json) return printJson(tokens);
      const rows = tokens.map((t) => [t.accessorId, t.type, t.policies.join(',') || '-', t.description, t.expirationTime ? when(t.expirationTime) : 'never']);
      process.stdout.write(table(['Accessor ID', 'Type', 'Policies', 'Description', 'Expires'], rows) + '\n');
    });
  for (const [name, description] of [
    ['info', 'Show a token by accessor id'],
    ['self', 'Show the token this command uses (--token or BERTH_TOKEN)'],
  ] as const) {
    const c = cmd.command(name).description(description).option('--json', 'print JSON');
    if (name === 'info') c.argument('<accessor>', 'accessor id, or "anonymous"');
    c.action(async (...args: unknown[]) => {
      const accessor = name === 'info' ? (args[0] as string) : 'self';
      const opts = args[name === 'info' ? 1 : 0] as { json?: boolean };
      const token = await new BerthClient().aclToken(accessor);
      if (opts.json) return printJson(token);
      process.stdout.write(tokenText(token) + '\n');
    });
  }
  cmd
    .command('delete')
    .description('Delete a token: its secret stops working at once')
    .argument('<accessor>', 'accessor id')
    .option('--json', 'print JSON')
    .action(async (accessor: string, opts: { json?: boolean }) => {
      await new BerthClient().deleteAclToken(accessor);
      if (opts.json) return printJson({ deleted: accessor });
      process.stdout.write(`Deleted ACL token ${accessor}.\n`);
    });
  return cmd;
}

interface TokenOpts {
  description?: string;
  policy?: string[];
  type?: 'client' | 'management';
  ttl?: string;
  json?: boolean;
}

function tokenRequest(opts: TokenOpts): { description?: string; policies?: string[]; type?: 'client' | 'management'; expirationTtl?: string } {
  if (opts.ttl !== undefined && !/^[0-9]+(ms|s|m|h|d)$/.test(opts.ttl)) throw new CliError(`Invalid --ttl "${opts.ttl}": use a number and a unit, e.g. 30m, 12h, 90d`);
  return { description: opts.description, policies: opts.policy, type: opts.type, expirationTtl: opts.ttl };
}

async function readDocument(file: string): Promise<string> {
  if (file === '-') {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }
  try {
    return await fs.readFile(file, 'utf8');
  } catch (err) {
    throw new CliError(`Cannot read policy file ${file}: ${(err as Error).message}`);
  }
}

function tokenText(t: AclTokenInfo): string {
  return fields([
    ['Accessor ID', t.accessorId],
    ...(t.secretId ? [['Secret ID', t.secretId] as [string, string]] : []),
    ['Description', t.description],
    ['Type', t.type],
    ['Policies', t.policies.join(', ') || '-'],
    ['Created', when(t.createTime)],
    ['Expires', t.expirationTime ? when(t.expirationTime) : 'never'],
  ]);
}

function policyText(p: AclPolicyInfo): string {
  return `${fields([
    ['Name', p.name],
    ['Description', p.description],
    ['Modified', when(p.modifyTime)],
  ])}\n\n${(p.source ?? '').trimEnd()}`;
}
