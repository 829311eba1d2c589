/**
 * `berth job periodic force`, `job runs`, `job dispatch`, `job graph`, and the next launches of a
 * periodic job under `job status`.
 */
import fs from 'node:fs/promises';
import { InvalidArgumentError, type Command } from 'commander';
import { BerthClient } from '../../api/index.ts';
import type { JobRun } from '../../model/index.ts';
import { CliError, UsageError } from '../errors.ts';
import { resolveJobId } from '../resolve.ts';
import { printJson, table, when } from '../output.ts';

/** The payload limit, checked here too so that a big file fails before it is sent. */
const MAX_PAYLOAD_BYTES = 16 * 1024;

function metaPair(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError(`expected key=value, got "${value}"`);
  return { ...previous, [value.slice(0, eq)]: value.slice(eq + 1) };
}

function duration(run: JobRun): string {
  if (run.start === undefined || run.end === undefined) return '-';
  const s = (run.end - run.start) / 1000;
  return s < 60 ? `${s.toFixed(1)}s` : `${Math.floor(s / 60)}m${Math.round(s % 60)}s`;
}

async function readPayload(file: string): Promise<Buffer> {
  if (file === '-') {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }
  return fs.readFile(file).catch((err: NodeJS.ErrnoException) => {
    throw new CliError(`Cannot read payload file ${file}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
  });
}

/** Adds the periodic, dispatch and graph commands to `job`, and next launches to `job status`. */
// eslint-disable-next-line max-lines-per-function -- a command tree: one short action per subcommand
export function addPeriodicCommands(job: Command): void {
  const periodic = job.command('periodic').description('Periodic jobs: launch one now');
  periodic
    .command('force')
    .description('Launch a periodic job now, whatever its schedule')
    .argument('<id>', 'job id or a unique prefix')
    .option('--json', 'print the run as JSON')
    .action(async (ref: string, opts: { json?: boolean }) => {
      const client = new BerthClient();
      const run = await client.forcePeriodic(await resolveJobId(client, ref));
      if (opts.json) return printJson(run);
      process.stdout.write(`Launched ${run.childId}\n`);
    });

  job
    .command('runs')
    .description('List the launches of a periodic, parameterized or dependent job, newest first')
    .argument('<id>', 'job id or a unique prefix')
    .option('--json', 'print JSON')
    .action(async (ref: string, opts: { json?: boolean }) => {
      const client = new BerthClient();
      const id = await resolveJobId(client, ref);
      const body = await client.jobRuns(id);
      if (opts.json) return printJson(body);
      if (body.runs.length === 0) process.stdout.write(`Job "${id}" has not run yet.\n`);
      else {
        const rows = body.runs.map((r) => [when(r.scheduled), r.trigger, r.outcome, duration(r), r.childId ?? '-', r.reason ?? '']);
        process.stdout.write(table(['Scheduled', 'Trigger', 'Outcome', 'Duration', 'Child job', 'Note'], rows) + '\n');
      }
      if (body.next.length > 0) process.stdout.write(`\nNext launches:\n${body.next.map((t) => `  ${new Date(t).toISOString()}`).join('\n')}\n`);
    });

  job
    .command('dispatch')
    .description('Launch a parameterized job with meta and a payload (a file, or - for stdin)')
    .argument('<id>', 'job id or a unique prefix')
    .argument('[payload]', 'payload file, or - to read stdin (16 KiB at most)')
    .option('--meta <key=value>', 'a meta value (repeatable); tasks see it as BERTH_META_<key>', metaPair)
    .option('--idempotency-token <token>', 'dispatch at most once: while a child dispatched with this token exists, print it and create nothing')
    .option('--json', 'print JSON')
    .action(async (ref: string, payloadFile: string | undefined, opts: { meta?: Record<string, string>; idempotencyToken?: string; json?: boolean }) => {
      const client = new BerthClient();
      const id = await resolveJobId(client, ref);
      let payload: string | undefined;
      if (payloadFile !== undefined) {
        const bytes = await readPayload(payloadFile);
        if (bytes.length > MAX_PAYLOAD_BYTES) throw new CliError(`Cannot dispatch job "${id}": the payload is ${bytes.length} bytes, over the limit of 16 KiB`);
        payload = bytes.toString('base64');
      }
      const run = await client.dispatchJob(id, { meta: opts.meta, payload, idempotencyToken: opts.idempotencyToken });
      if (opts.json) return printJson(run);
      // With a token, a repeated dispatch names the same child: the one dispatched first.
      process.stdout.write(`Dispatched ${run.childId}${opts.idempotencyToken === undefined ? '' : ` (idempotency token ${opts.idempotencyToken})`}\n`);
    });

  job
    .command('graph')
    .description('Show the dependencies between jobs (after), as JSON or Graphviz DOT')
    .option('--dot', 'print Graphviz DOT (pipe it to `dot -Tsvg`)')
    .option('--json', 'print JSON (the default)')
    .action(async (opts: { dot?: boolean; json?: boolean }) => {
      if (opts.dot && opts.json) throw new UsageError('Cannot print the graph as both --dot and --json: give one');
      const client = new BerthClient();
      if (opts.dot) return void process.stdout.write(String(await client.jobGraph('dot')));
      printJson(await client.jobGraph('json'));
    });

  // `job status ID` of a periodic job: its next launches after the summary.
  const status = job.commands.find((c) => c.name() === 'status');
  status?.hook('postAction', async (cmd) => {
    const ref = cmd.args[0];
    if (!ref || cmd.opts<{ json?: boolean }>().json) return;
    const client = new BerthClient();
    const id = await resolveJobId(client, ref);
    const spec = await client.getJob(id);
    if (!spec.periodic) return;
    const { next } = await client.jobRuns(id, 3);
    const text = next.length ? next.map((t) => `  ${new Date(t).toISOString()}`).join('\n') : '  none (disabled, stopped, or the schedule has ended)';
    process.stdout.write(`\nNext launches (${spec.periodic.cron ?? spec.periodic.schedule}, ${spec.periodic.timeZone}):\n${text}\n`);
  });
}
