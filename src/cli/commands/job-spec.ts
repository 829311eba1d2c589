/** `berth job init`, `job validate FILE`, `job inspect ID`: writing, checking and reading specs. */
import fs from 'node:fs/promises';
import { InvalidArgumentError, type Command } from 'commander';
import { stringify as toYaml } from 'yaml';
import { BerthClient } from '../../api/index.ts';
import { parseJobSpec, formatErrors } from '../../jobspec/index.ts';
import { CliError } from '../errors.ts';
import { EXAMPLE_SPEC } from '../example-spec.ts';
import { printJson } from '../output.ts';
import { resolveJobId } from '../resolve.ts';

function version(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`expected a version number (see \`berth job history\`), got "${value}"`);
  return Number(value);
}

/** Write the example spec to `file`, never over an existing one. */
async function writeExample(file: string): Promise<void> {
  try {
    await fs.writeFile(file, EXAMPLE_SPEC, { flag: 'wx' });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EEXIST') throw new CliError(`Cannot write ${file}: it exists already; remove it or give another file name (berth job init FILE)`);
    throw new CliError(`Cannot write ${file}: ${e.message}`);
  }
}

/** Adds `init`, `validate` and `inspect` to the `job` command. */
export function addSpecCommands(job: Command): void {
  job
    .command('init')
    .description('Write an example job spec, every setting commented, to start from')
    .argument('[file]', 'where to write it', 'example.yaml')
    .option('--json', 'print the result as JSON')
    .action(async (file: string, opts: { json?: boolean }) => {
      await writeExample(file);
      if (opts.json) return printJson({ file });
      process.stdout.write(`Example job spec written to ${file}. Check it: berth job validate ${file}; run it: berth job run ${file}\n`);
    });

  job
    .command('validate')
    .description('Check a job spec file: every problem with its path; nothing is sent to a server; exit 0 valid, 1 invalid')
    .argument('<file>', 'job spec (YAML or JSON)')
    .option('--json', 'print {valid, job | errors} as JSON')
    .action(async (file: string, opts: { json?: boolean }) => {
      const text = await fs.readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
        throw new CliError(`Cannot read job file ${file}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
      });
      const parsed = parseJobSpec(text, { source: file });
      if (opts.json) {
        printJson(parsed.ok ? { valid: true, job: parsed.job } : { valid: false, errors: parsed.errors });
        if (!parsed.ok) process.exitCode = 1;
        return;
      }
      if (!parsed.ok) throw new CliError(`Invalid job spec ${file}:\n${formatErrors(parsed.errors, file)}`);
      const { job: j } = parsed;
      const tasks = j.groups.reduce((n, g) => n + g.tasks.length, 0);
      process.stdout.write(`Job spec ${file} is valid: job "${j.id}" (${j.type}), ${j.groups.length} group${j.groups.length === 1 ? '' : 's'}, ${tasks} task${tasks === 1 ? '' : 's'}\n`);
    });

  job
    .command('inspect')
    .description('Print the stored spec of a job, defaults filled in, as YAML (or JSON)')
    .argument('<id>', 'job id or a unique prefix')
    .option('--version <n>', 'a kept older version (see `berth job history`)', version)
    .option('--json', 'print JSON')
    .action(async (ref: string, opts: { version?: number; json?: boolean }) => {
      const client = new BerthClient();
      const id = await resolveJobId(client, ref);
      const spec = opts.version === undefined ? await client.getJob(id) : await client.getJobVersion(id, opts.version);
      if (opts.json) return printJson(spec);
      process.stdout.write(toYaml(spec));
    });
}
