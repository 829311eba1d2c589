import { Command, InvalidArgumentError } from 'commander';
import { BerthClient } from '../../api/index.ts';
import { fields, printJson, table, when } from '../output.ts';
import type { TaskUsage } from '../../model/index.ts';
import { execSession } from '../exec.ts';
import { CliError, EXIT_USAGE } from '../errors.ts';
import { addAllocOpsCommands } from './alloc-ops.ts';
import { parseSince } from '../since.ts';

/** `berth alloc status|logs|exec|stop|restart|signal`. */
// eslint-disable-next-line max-lines-per-function -- a command tree: one short action per subcommand
export function allocCommand(): Command {
  const alloc = new Command('alloc').description('Inspect allocations, follow their output, run commands in them, stop, restart or signal them');

  alloc
    .command('status')
    .description('Show an allocation: where it runs, its ports and its tasks')
    .argument('<id>', 'allocation id or a unique prefix (at least 4 characters)')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { json?: boolean }) => {
      const client = new BerthClient();
      const { value: a } = await client.getAllocation(id);
      // Usage comes from the agent; a node that does not answer leaves it out, not the status.
      const usage = a.clientStatus === 'running' ? await client.allocStats(a.id).catch(() => undefined) : undefined;
      if (opts.json) return printJson(usage ? { ...a, stats: usage } : a);
      const lines = [
        fields([
          ['ID', a.id],
          ['Name', a.name],
          ['Node', a.nodeId],
          ['Job', `${a.jobId} (version ${a.jobVersion})`],
          ['Desired', a.desiredStatus + (a.desiredDescription ? ` (${a.desiredDescription})` : '')],
          ['Status', a.clientStatus + (a.clientDescription ? ` (${a.clientDescription})` : '')],
          ['Resources', `${a.resources.cpu} cpu, ${a.resources.memoryMiB} MiB`],
          ['Ports', a.ports.map((p) => `${p.label} ${p.value}${p.to !== p.value ? ` -> ${p.to}` : ''}`).join(', ') || '-'],
          ['Created', when(a.createTime)],
          ['Modified', when(a.modifyTime)],
        ]),
      ];
      for (const [name, t] of Object.entries(a.taskStates)) {
        lines.push(
          '',
          `Task "${name}": ${t.state}${t.failed ? ' (failed)' : ''}, ${t.restarts} restart${t.restarts === 1 ? '' : 's'}, driver ${t.driver ?? '-'}${usageText(usage?.tasks[name])}`,
          table(
            ['Time', 'Type', 'Message'],
            t.events.map((e) => [new Date(e.time).toISOString(), e.type, e.message]),
          ),
        );
      }
      process.stdout.write(lines.join('\n') + '\n');
    });

  alloc
    .command('logs')
    .description("Print a task's output; with -f, follow it")
    .argument('<id>', 'allocation id or a unique prefix')
    .argument('[task]', 'task name (needed when the allocation has several)')
    .option('-f, --follow', 'keep printing new output until interrupted or the task stops')
    .option('--stderr', 'show stderr instead of stdout')
    .option('--tail <lines>', 'start with the last N lines', (v) => {
      if (!/^\d+$/.test(v)) throw new InvalidArgumentError('must be a whole number of lines');
      return Number(v);
    })
    .option('--since <when>', 'only output written since then: a duration back from now (10m) or a time (2026-12-07T12:00:00Z)', (v) => parseSince(v))
    .action(async (id: string, task: string | undefined, opts: { follow?: boolean; stderr?: boolean; tail?: number; since?: number }) => {
      const abort = new AbortController();
      process.once('SIGINT', () => abort.abort());
      const stream = await new BerthClient().allocLogs(id, { task, follow: opts.follow, stream: opts.stderr ? 'stderr' : 'stdout', tail: opts.tail, since: opts.since, signal: abort.signal });
      try {
        for await (const chunk of stream) process.stdout.write(chunk);
      } catch (err) {
        if (!abort.signal.aborted) throw err;
      }
    });

  alloc
    .command('exec')
    .description('Run a command inside a running task: `berth alloc exec ID [TASK] -- CMD ARGS...`')
    .argument('<id>', 'allocation id or a unique prefix')
    .argument('[task-and-command...]', 'task name (needed when the allocation has several), then -- and the command')
    .option('-t, --tty', 'give the command a terminal (default: when stdin is a terminal)')
    .option('-T, --no-tty', 'no terminal, even when stdin is one')
    .action(async (id: string, rest: string[], opts: { tty?: boolean }) => {
      // Everything after `--` is the command (commander hands it over with the task name, if any).
      const dash = process.argv.indexOf('--');
      const command = dash >= 0 ? process.argv.slice(dash + 1) : [];
      const task = rest.length > command.length ? rest[0] : undefined;
      if (command.length === 0) throw new CliError('Cannot exec: give the command after --, e.g. berth alloc exec 1a2b -- ls -l', EXIT_USAGE);
      const tty = opts.tty ?? Boolean(process.stdin.isTTY);
      process.exitCode = await execSession(new BerthClient().allocExecUrl(id, { task, command, tty }), tty);
    });

  addAllocOpsCommands(alloc);
  return alloc;
}

/** ` | cpu 1.5%, memory 12.3 MiB of 64 MiB` for a task with usage. */
function usageText(u: TaskUsage | undefined): string {
  if (!u) return '';
  const mib = (b: number): string => `${(b / 1024 / 1024).toFixed(1)} MiB`;
  return ` | cpu ${u.cpuPercent.toFixed(1)}%, memory ${mib(u.memoryBytes)}${u.memoryLimitBytes ? ` of ${mib(u.memoryLimitBytes)}` : ''}`;
}
