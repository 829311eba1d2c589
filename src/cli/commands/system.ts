import { Command } from 'commander';
import { BerthClient } from '../../api/index.ts';
import { printJson } from '../output.ts';

/** `berth system gc`. */
export function systemCommand(): Command {
  const cmd = new Command('system').description('System maintenance: garbage collection');
  cmd
    .command('gc')
    .description('Collect garbage now, thresholds ignored: terminal allocations and evaluations, finished deployments, stopped and purged jobs, old versions, down nodes')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const r = await new BerthClient().systemGc();
      if (opts.json) return printJson(r);
      const parts = (
        [
          ['jobs', r.jobs],
          ['job versions', r.jobVersions],
          ['allocations', r.allocs],
          ['evaluations', r.evals],
          ['deployments', r.deployments],
          ['runs', r.runs],
          ['nodes', r.nodes],
        ] as const
      ).filter(([, n]) => n > 0);
      process.stdout.write(parts.length === 0 ? 'Nothing to collect.\n' : `Collected ${parts.map(([what, n]) => `${n} ${what}`).join(', ')}.\n`);
      if (r.conflicts > 0) process.stdout.write(`${r.conflicts} batch(es) changed meanwhile; the next pass looks at them again.\n`);
    });
  return cmd;
}
