import { Command, InvalidArgumentError } from 'commander';
import { BerthClient } from '../../api/index.ts';
import { fields, printJson, table, when } from '../output.ts';

/** `berth alloc status|logs`. */
export function allocCommand(): Command {
  const alloc = new Command('alloc').description('Inspect allocations');

  alloc
    .command('status')
    .description('Show an allocation: where it runs, its ports and its tasks')
    .argument('<id>', 'allocation id or a unique prefix (at least 4 characters)')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { json?: boolean }) => {
      const { value: a } = await new BerthClient().getAllocation(id);
      if (opts.json) return printJson(a);
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
          `Task "${name}": ${t.state}${t.failed ? ' (failed)' : ''}, ${t.restarts} restart${t.restarts === 1 ? '' : 's'}, driver ${t.driver ?? '-'}`,
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
    .action(async (id: string, task: string | undefined, opts: { follow?: boolean; stderr?: boolean; tail?: number }) => {
      const abort = new AbortController();
      process.once('SIGINT', () => abort.abort());
      const stream = await new BerthClient().allocLogs(id, { task, follow: opts.follow, stream: opts.stderr ? 'stderr' : 'stdout', tail: opts.tail, signal: abort.signal });
      try {
        for await (const chunk of stream) process.stdout.write(chunk);
      } catch (err) {
        if (!abort.signal.aborted) throw err;
      }
    });

  return alloc;
}
