import { Command, InvalidArgumentError } from 'commander';
import { BerthClient } from '../../api/index.ts';
import { paint, type Style } from '../colour.ts';
import { CliError } from '../errors.ts';
import { allocLabel, streamJobLogs, type LogLine } from '../job-logs.ts';
import { parseSince } from '../since.ts';

/** Colours of the prefixes, one per allocation in turn (red is kept for errors). */
const PALETTE: Style[] = ['cyan', 'yellow', 'green', 'magenta', 'blue'];

const STDERR_MARK = ' (stderr)';

interface LogsOptions {
  group?: string;
  task?: string;
  follow?: boolean;
  tail?: number;
  since?: number;
  all?: boolean;
  prefix: boolean;
  json?: boolean;
}

/** `berth logs JOB`: every allocation's output, interleaved with a prefix, as `docker compose logs`. */
export function logsCommand(): Command {
  return new Command('logs')
    .description("Print the output of every allocation of a job, each line after its allocation's name; with -f, follow it")
    .argument('<job>', 'job id')
    .option('--group <group>', 'only the allocations of this group')
    .option('--task <task>', 'only this task')
    .option('-f, --follow', 'keep printing new output, and that of allocations placed later, until interrupted')
    .option('-a, --all', 'finished and failed allocations too, while their agent keeps them (a stopped one goes with its output)')
    .option('--tail <lines>', 'start each allocation with its last N lines', (v) => {
      if (!/^\d+$/.test(v)) throw new InvalidArgumentError('must be a whole number of lines');
      return Number(v);
    })
    .option('--since <when>', 'only output written since then: a duration back from now (10m, 1h30m) or a time (2026-12-07T12:00:00Z)', (v) => parseSince(v))
    .option('--no-prefix', 'print the lines alone, without the allocation')
    .option('--json', 'print JSON lines: {alloc, group, task, stream, line}')
    .action(async (jobId: string, opts: LogsOptions) => {
      const client = new BerthClient();
      const job = await client.getJob(jobId);
      const groups = opts.group === undefined ? job.groups : job.groups.filter((g) => g.name === opts.group);
      if (groups.length === 0) throw new CliError(`Cannot show logs of job "${jobId}": it has no group "${opts.group}"; its groups: ${job.groups.map((g) => g.name).join(', ')}`);
      if (opts.task !== undefined && !groups.some((g) => g.tasks.some((t) => t.name === opts.task))) {
        const names = [...new Set(groups.flatMap((g) => g.tasks.map((t) => t.name)))];
        throw new CliError(`Cannot show logs of job "${jobId}": ${opts.group === undefined ? 'it' : `its group "${opts.group}"`} has no task "${opts.task}"; its tasks: ${names.join(', ')}`);
      }
      const abort = new AbortController();
      process.once('SIGINT', () => abort.abort());
      const read = await streamJobLogs(client, job.id, {
        group: opts.group,
        task: opts.task,
        follow: opts.follow === true,
        tail: opts.tail,
        since: opts.since,
        all: opts.all === true,
        signal: abort.signal,
        onLine: opts.json ? printJsonLine : prefixPrinter(opts),
        onWarning: (message) => process.stderr.write(`${paint('yellow', 'Warning:', process.stderr)} ${message}\n`),
      });
      // Said on stderr, so that stdout stays the tasks' lines alone.
      if (read === 0 && !opts.follow) process.stderr.write(`Job "${job.id}" has no ${opts.all ? '' : 'running '}allocation with a started task${opts.group === undefined ? '' : ` in group "${opts.group}"`}${opts.all ? '' : '; -a shows stopped ones too'}\n`);
    });
}

function printJsonLine(l: LogLine): void {
  process.stdout.write(JSON.stringify({ alloc: l.alloc.id, group: l.alloc.group, task: l.task, stream: l.stream, line: l.line }) + '\n');
}

/**
 * Writes `web.1[3f2a]          | line`, stderr's lines marked `(stderr)`, the prefixes padded to
 * the widest seen so far and coloured per allocation on a terminal. One write per line, so lines
 * of different allocations never mix.
 */
function prefixPrinter(opts: LogsOptions): (l: LogLine) => void {
  const colours = new Map<string, Style>();
  let width = 0;
  return (l) => {
    if (!opts.prefix) return void process.stdout.write(`${l.line}\n`);
    const showTask = opts.task === undefined && Object.keys(l.alloc.taskStates).length > 1;
    const name = allocLabel(l.alloc, l.task, showTask);
    const label = `${name}${l.stream === 'stderr' ? STDERR_MARK : ''}`;
    // Room for the mark from the first line on, so stdout's and stderr's lines align at once.
    width = Math.max(width, name.length + STDERR_MARK.length);
    let colour = colours.get(l.alloc.id);
    if (colour === undefined) {
      colour = PALETTE[colours.size % PALETTE.length];
      colours.set(l.alloc.id, colour);
    }
    process.stdout.write(`${paint(colour, `${label.padEnd(width)} |`)} ${l.line}\n`);
  };
}
