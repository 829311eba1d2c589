import fs from 'node:fs/promises';
import { Command, InvalidArgumentError } from 'commander';
import { BerthClient } from '../../api/index.ts';
import type { Variable } from '../../model/index.ts';
import { CliError, UsageError } from '../errors.ts';
import { fields, printJson, table, when } from '../output.ts';

const checkIndex = (v: string): number => {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`expected a modify index (a whole number, 0 for "only if new"), got "${v}"`);
  return Number(v);
};

/** `berth var put|get|list|delete`: variables, encrypted at rest (Nomad's `nomad var`). */
export function varCommand(): Command {
  const cmd = new Command('var').description('Variables: small sets of secrets by path, encrypted at rest; tasks read their job\'s own (berth/jobs/<job>/...)');
  cmd
    .command('put')
    .description('Create or replace a variable: KEY=VALUE items, or a JSON object of items from - (stdin) or @FILE')
    .argument('<path>', 'variable path, e.g. berth/jobs/web/db')
    .argument('[items...]', 'KEY=VALUE (VALUE may be @FILE), or a single - or @FILE with JSON')
    .option('--check-index <n>', 'write only if the variable is still at this modify index (0: only if it does not exist)', checkIndex)
    .option('--json', 'print the variable as JSON')
    .action(async (path: string, args: string[], opts: { checkIndex?: number; json?: boolean }) => {
      const items = await itemsOf(args);
      const variable = await new BerthClient().putVariable(path, items, opts.checkIndex);
      if (opts.json) return printJson(variable);
      process.stdout.write(`Wrote variable "${variable.path}" (modify index ${variable.modifyIndex}, ${Object.keys(variable.items).length} items).\n`);
    });
  cmd
    .command('get')
    .description("Print a variable's items (or one with --item)")
    .argument('<path>', 'variable path')
    .option('--item <key>', 'print only this item\'s value')
    .option('--json', 'print the variable as JSON')
    .action(async (path: string, opts: { item?: string; json?: boolean }) => {
      const variable = await new BerthClient().getVariable(path);
      if (opts.item !== undefined) {
        const value = variable.items[opts.item];
        if (value === undefined) throw new CliError(`Cannot print item "${opts.item}" of variable "${path}": it has no such item (it has ${Object.keys(variable.items).join(', ')})`);
        if (opts.json) return printJson({ [opts.item]: value });
        return void process.stdout.write(`${value}\n`);
      }
      if (opts.json) return printJson(variable);
      process.stdout.write(variableText(variable) + '\n');
    });
  cmd
    .command('list')
    .description('List variables under a prefix (paths and indexes; no items)')
    .argument('[prefix]', 'path prefix', '')
    .option('--json', 'print JSON')
    .action(async (prefix: string, opts: { json?: boolean }) => {
      const list = await new BerthClient().listVariables(prefix);
      if (opts.json) return printJson(list);
      if (list.length === 0) return void process.stdout.write(`No variables${prefix ? ` under "${prefix}"` : ''}.\n`);
      process.stdout.write(table(['Path', 'Modify Index', 'Modified'], list.map((v) => [v.path, v.modifyIndex, when(v.modifyTime)])) + '\n');
    });
  cmd
    .command('delete')
    .description('Delete a variable')
    .argument('<path>', 'variable path')
    .option('--check-index <n>', 'delete only if the variable is still at this modify index', checkIndex)
    .option('--json', 'print JSON')
    .action(async (path: string, opts: { checkIndex?: number; json?: boolean }) => {
      await new BerthClient().deleteVariable(path, opts.checkIndex);
      if (opts.json) return printJson({ deleted: path });
      process.stdout.write(`Deleted variable "${path}".\n`);
    });
  return cmd;
}

/** `berth operator keyring list|rotate`. */
export function operatorCommand(): Command {
  const cmd = new Command('operator').description('Cluster operations: the keyring of variables');
  const keyring = cmd.command('keyring').description('The data keys that encrypt variables (wrapped with the servers\' key-encryption key)');
  keyring
    .command('list')
    .description('List the keys: state (active, rotated, inactive) and how many variables each still encrypts')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const keys = await new BerthClient().keyringKeys();
      if (opts.json) return printJson(keys);
      process.stdout.write(table(['Key ID', 'State', 'Variables', 'Created'], keys.map((k) => [k.id, k.state, k.variables, when(k.createTime)])) + '\n');
    });
  keyring
    .command('rotate')
    .description('Make a new active key; the leader re-encrypts every variable under it in the background')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const key = await new BerthClient().rotateKeyring();
      if (opts.json) return printJson(key);
      process.stdout.write(`New active key ${key.id}; variables are re-encrypted in the background (see \`berth operator keyring list\`).\n`);
    });
  return cmd;
}

/** The items of `var put`: KEY=VALUE arguments (VALUE `@FILE` reads a file), or one `-`/`@FILE` of JSON. */
async function itemsOf(args: string[]): Promise<Record<string, string>> {
  if (args.length === 0) throw new UsageError('Cannot put a variable without items: give KEY=VALUE items, or - / @FILE with a JSON object');
  if (args.length === 1 && (args[0] === '-' || (args[0].startsWith('@') && !args[0].includes('=')))) {
    const text = args[0] === '-' ? await readStdin() : await readFileArg(args[0].slice(1));
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (err) {
      throw new CliError(`Cannot read items from ${args[0] === '-' ? 'stdin' : args[0].slice(1)}: not JSON (${(err as Error).message}); give an object such as {"user": "app", "password": "..."}`);
    }
    // A whole variable (as `var get --json` prints) or just its items.
    const o = doc as { items?: unknown; Items?: unknown };
    return ((o && typeof o === 'object' && (o.items ?? o.Items)) || doc) as Record<string, string>;
  }
  const items: Record<string, string> = {};
  for (const arg of args) {
    const eq = arg.indexOf('=');
    if (eq <= 0) throw new UsageError(`Invalid item "${arg}": expected KEY=VALUE (e.g. password=s3cret, or password=@secret.txt)`);
    const value = arg.slice(eq + 1);
    items[arg.slice(0, eq)] = value.startsWith('@') ? (await readFileArg(value.slice(1))).replace(/\n$/, '') : value;
  }
  return items;
}

async function readFileArg(file: string): Promise<string> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (err) {
    throw new CliError(`Cannot read ${file}: ${(err as Error).message}`);
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function variableText(v: Variable): string {
  const meta = fields([
    ['Path', v.path],
    ['Create Index', v.createIndex],
    ['Modify Index', v.modifyIndex],
    ['Modify Time', when(v.modifyTime)],
  ]);
  const keys = Object.keys(v.items).sort();
  return `${meta}\n\nItems\n${fields(keys.map((k) => [k, v.items[k]]))}`;
}
