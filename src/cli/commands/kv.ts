import fs from 'node:fs/promises';
import { Command } from 'commander';
import type { KvEntry } from '../../model/index.ts';
import { CliError } from '../errors.ts';
import { printJson } from '../output.ts';
import { call, kvPath } from './consul-http.ts';


const decode = (e: KvEntry): string => (e.Value === null ? '' : Buffer.from(e.Value, 'base64').toString('utf8'));

/** Read a value argument: literal text, `-` for stdin, `@file` for a file. */
async function valueOf(arg: string | undefined): Promise<Buffer> {
  if (arg === undefined) return Buffer.alloc(0);
  if (arg === '-') {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }
  if (arg.startsWith('@')) return fs.readFile(arg.slice(1));
  return Buffer.from(arg);
}

function print(entries: KvEntry[], detailed: boolean): void {
  for (const e of entries) {
    if (!detailed) {
      process.stdout.write(entries.length > 1 ? `${e.Key}:${decode(e)}\n` : `${decode(e)}\n`);
      continue;
    }
    const rows: [string, string | number][] = [['CreateIndex', e.CreateIndex], ['Flags', e.Flags], ['Key', e.Key], ['LockIndex', e.LockIndex], ['ModifyIndex', e.ModifyIndex], ['Session', e.Session ?? '-'], ['Value', decode(e)]];
    process.stdout.write(rows.map(([k, v]) => `${k.padEnd(12)} ${v}`).join('\n') + '\n\n');
  }
}

/** `berth kv get|put|delete|list|watch|export|import`: Consul's KV, as `consul kv`. */
export function kvCommand(): Command {
  const kv = new Command('kv').description('The key/value store (Consul-compatible): get, put, delete, list, watch, export, import');
  for (const add of [addGet, addPut, addDelete, addList, addWatch, addExport, addImport]) add(kv);
  return kv;
}

/** `berth kv get`. */
function addGet(kv: Command): void {
  kv.command('get')
    .description('Print a key’s value (or every key under a prefix with --recurse)')
    .argument('<key>')
    .option('--recurse', 'every key under the prefix, as key:value')
    .option('--detailed', 'show indexes, flags and the lock holder')
    .option('--json', 'print the entries as JSON')
    .action(async (key: string, opts: { recurse?: boolean; detailed?: boolean; json?: boolean }) => {
      const res = await call('GET', kvPath(key) + (opts.recurse ? '?recurse' : ''));
      if (res.status === 404) throw new CliError(`Cannot get "${key}": no such key${opts.recurse ? ' prefix' : ''} (see \`berth kv list\`)`);
      const entries = JSON.parse(res.text) as KvEntry[];
      if (opts.json) return printJson(entries);
      print(entries, Boolean(opts.detailed));
    });
}

/** `berth kv put`. */
function addPut(kv: Command): void {
  kv.command('put')
    .description('Write a key: VALUE, `-` for stdin or @FILE')
    .argument('<key>')
    .argument('[value]')
    .option('--flags <n>', 'opaque flags stored with the key')
    .option('--cas', 'check-and-set: write only if the key is at --modify-index (0: only if absent)')
    .option('--modify-index <n>', 'the index for --cas', '0')
    .option('--json', 'print the result as JSON')
    .action(async (key: string, value: string | undefined, opts: { flags?: string; cas?: boolean; modifyIndex: string; json?: boolean }) => {
      const q = new URLSearchParams();
      if (opts.flags) q.set('flags', opts.flags);
      if (opts.cas) q.set('cas', opts.modifyIndex);
      const res = await call('PUT', `${kvPath(key)}${q.size ? `?${q}` : ''}`, { body: await valueOf(value) });
      if (res.text.trim() !== 'true') throw new CliError(`Cannot put "${key}": the check-and-set did not hold (index ${opts.modifyIndex}); read it again with \`berth kv get --detailed ${key}\``);
      if (opts.json) return printJson({ key, written: true });
      process.stdout.write(`Success! Data written to: ${key}\n`);
    });
}

/** `berth kv delete`. */
function addDelete(kv: Command): void {
  kv.command('delete')
    .description('Delete a key, or every key under a prefix with --recurse')
    .argument('<key>')
    .option('--recurse', 'delete every key under the prefix')
    .option('--cas', 'delete only if the key is at --modify-index')
    .option('--modify-index <n>', 'the index for --cas')
    .option('--json', 'print the result as JSON')
    .action(async (key: string, opts: { recurse?: boolean; cas?: boolean; modifyIndex?: string; json?: boolean }) => {
      if (opts.cas && !opts.modifyIndex) throw new CliError('Cannot delete with --cas: give --modify-index N (see `berth kv get --detailed`)');
      const q = opts.recurse ? '?recurse' : opts.cas ? `?cas=${opts.modifyIndex}` : '';
      const res = await call('DELETE', kvPath(key) + q);
      if (res.text.trim() !== 'true') throw new CliError(`Cannot delete "${key}": the check-and-set did not hold (index ${opts.modifyIndex})`);
      if (opts.json) return printJson({ key, recurse: opts.recurse === true, deleted: true });
      process.stdout.write(`Success! Deleted key${opts.recurse ? 's under' : ''}: ${key}\n`);
    });
}

/** `berth kv list`. */
function addList(kv: Command): void {
  kv.command('list')
    .description('List keys under a prefix (one level with --separator /)')
    .argument('[prefix]', 'key prefix', '')
    .option('--separator <s>', 'stop each key after this separator')
    .option('--json', 'print the keys as a JSON array')
    .action(async (prefix: string, opts: { separator?: string; json?: boolean }) => {
      const res = await call('GET', `${kvPath(prefix)}?keys${opts.separator ? `&separator=${encodeURIComponent(opts.separator)}` : ''}`);
      const keys = res.status === 404 ? [] : (JSON.parse(res.text) as string[]);
      if (opts.json) return printJson(keys);
      for (const k of keys) process.stdout.write(`${k}\n`);
    });
}

/** `berth kv watch`. */
function addWatch(kv: Command): void {
  kv.command('watch')
    .description('Print a key’s value (or a prefix’s keys with --recurse) now and on every change, until interrupted')
    .argument('<key>')
    .option('--recurse', 'watch every key under the prefix')
    .option('--json', 'print each change as one line of JSON (the entries; [] when absent)')
    .action(async (key: string, opts: { recurse?: boolean; json?: boolean }) => {
      let index = 0;
      for (;;) {
        const res = await call('GET', `${kvPath(key)}?${opts.recurse ? 'recurse&' : ''}index=${index}&wait=5m`, { timeoutMs: 330_000 });
        if (res.index === index) continue;
        // Consul's rule: an index that goes backwards resets the watch.
        index = res.index < index ? 0 : res.index;
        if (opts.json) process.stdout.write(`${res.status === 404 ? '[]' : JSON.stringify(JSON.parse(res.text))}\n`);
        else if (res.status === 404) process.stdout.write(`${key}: (absent)\n`);
        else print(JSON.parse(res.text) as KvEntry[], false);
      }
    });
}

/** `berth kv export`. */
function addExport(kv: Command): void {
  kv.command('export')
    .description('Print every key under a prefix as JSON for `berth kv import` (consul kv export format)')
    .argument('[prefix]', 'key prefix', '')
    .option('--json', 'print JSON (the default, and the only form)')
    .action(async (prefix: string) => {
      const res = await call('GET', `${kvPath(prefix)}?recurse`);
      const entries = res.status === 404 ? [] : (JSON.parse(res.text) as KvEntry[]);
      printJson(entries.map((e) => ({ key: e.Key, flags: e.Flags, value: e.Value ?? '' })));
    });
}

/** `berth kv import`. */
function addImport(kv: Command): void {
  kv.command('import')
    .description('Write keys from `berth kv export` JSON (FILE, or - for stdin), 64 per transaction')
    .argument('[file]', 'JSON file', '-')
    .option('--json', 'print the result as JSON')
    .action(async (file: string, opts: { json?: boolean }) => {
      const text = (await valueOf(file === '-' ? '-' : `@${file}`)).toString('utf8');
      let items: { key: string; flags?: number; value?: string }[];
      try {
        items = JSON.parse(text) as typeof items;
        if (!Array.isArray(items)) throw new Error('not an array');
      } catch (err) {
        throw new CliError(`Cannot import: the input is not a JSON array of {key, flags, value} (${(err as Error).message}); produce it with \`berth kv export\``);
      }
      for (let i = 0; i < items.length; i += 64) {
        const ops = items.slice(i, i + 64).map((it) => ({ KV: { Verb: 'set', Key: it.key, Flags: it.flags ?? 0, Value: it.value ?? '' } }));
        const res = await call('PUT', '/v1/txn', { body: JSON.stringify(ops) });
        if (res.status !== 200) throw new CliError(`Cannot import: ${res.text}`);
      }
      if (opts.json) return printJson({ imported: items.length });
      process.stdout.write(`Imported ${items.length} key${items.length === 1 ? '' : 's'}\n`);
    });
}
