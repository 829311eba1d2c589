/** `berth alloc stop|restart|signal`: what operators do to one allocation. */
import type { Command } from 'commander';
import { BerthClient } from '../../api/index.ts';
import { UsageError } from '../errors.ts';
import { printJson } from '../output.ts';

/** `hup`, `HUP`, `SIGHUP` all mean SIGHUP, as `kill -s` takes them. */
export function signalName(value: string): string {
  const upper = value.toUpperCase();
  const name = upper.startsWith('SIG') ? upper : `SIG${upper}`;
  if (!/^SIG[A-Z0-9]+$/.test(name)) throw new UsageError(`Cannot signal: "${value}" is not a signal name (e.g. SIGHUP, USR1, TERM)`);
  return name;
}

/** Adds `stop`, `restart` and `signal` to the `alloc` command. */
export function addAllocOpsCommands(alloc: Command): void {
  alloc
    .command('stop')
    .description('Stop an allocation; the scheduler places a replacement (elsewhere if need be)')
    .argument('<id>', 'allocation id or a unique prefix (4+ characters)')
    .option('--json', 'print the result as JSON')
    .action(async (id: string, opts: { json?: boolean }) => {
      const result = await new BerthClient().stopAllocation(id);
      if (opts.json) return printJson(result);
      process.stdout.write(`Allocation ${result.allocId.slice(0, 8)} stopping; a replacement will be placed (evaluation ${result.evalId.slice(0, 8)}). Follow it: berth alloc status ${result.allocId.slice(0, 8)}\n`);
    });

  alloc
    .command('restart')
    .description('Restart the running tasks of an allocation in place, on its node (outside the restart policy)')
    .argument('<id>', 'allocation id or a unique prefix (4+ characters)')
    .argument('[task]', 'only this task')
    .option('--json', 'print the result as JSON')
    .action(async (id: string, task: string | undefined, opts: { json?: boolean }) => {
      const result = await new BerthClient().restartAllocation(id, task);
      if (opts.json) return printJson(result);
      process.stdout.write(`Allocation ${result.allocId.slice(0, 8)}: restarted ${result.tasks.map((t) => `"${t}"`).join(', ')}\n`);
    });

  alloc
    .command('signal')
    .description('Send a signal to the running tasks of an allocation (default SIGHUP)')
    .argument('<id>', 'allocation id or a unique prefix (4+ characters)')
    .argument('[task]', 'only this task')
    .option('-s, --signal <signal>', 'the signal: SIGHUP, HUP, usr1, ...', 'SIGHUP')
    .option('--json', 'print the result as JSON')
    .action(async (id: string, task: string | undefined, opts: { signal: string; json?: boolean }) => {
      const signal = signalName(opts.signal);
      const result = await new BerthClient().signalAllocation(id, signal, task);
      if (opts.json) return printJson({ ...result, signal });
      process.stdout.write(`Allocation ${result.allocId.slice(0, 8)}: sent ${signal} to ${result.tasks.map((t) => `"${t}"`).join(', ')}\n`);
    });
}
