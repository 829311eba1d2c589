/** `berth job deps [ID]` (the dependency graph as a tree) and `berth job mark-success ID`. */
import type { Command } from 'commander';
import { BerthClient } from '../../api/index.ts';
import { resolveJobId } from '../resolve.ts';
import { printJson } from '../output.ts';
import { depsTree } from '../deps-text.ts';

/** Adds `deps` and `mark-success` to `job`. */
export function addDependencyCommands(job: Command): void {
  job
    .command('deps')
    .description('Show the dependencies between jobs (after) as a tree: each job under the jobs it waits for, with the condition and its state')
    .argument('[id]', 'only this job, what it waits for and what waits for it (job id or a unique prefix)')
    .option('--json', 'print the graph as JSON (nodes with their last run state, edges with conditions)')
    .action(async (ref: string | undefined, opts: { json?: boolean }) => {
      const client = new BerthClient();
      const graph = await client.dependencyGraph();
      if (opts.json) return printJson(graph);
      // A job named by a dependency may not exist: resolve only against the registered ones then.
      const id = ref === undefined ? undefined : graph.nodes.some((n) => n.id === ref) ? ref : await resolveJobId(client, ref);
      process.stdout.write(`${depsTree(graph, id)}\n`);
    });

  job
    .command('mark-success')
    .description('Mark a failed run of a batch job successful, so the jobs that wait for it go on (recorded with who and when)')
    .argument('<id>', 'job id or a unique prefix')
    .option('--run <run>', 'the run of a periodic, dispatched or chained job: its child job id or scheduled time (default: the newest failed run)')
    .option('--json', 'print the result as JSON')
    .action(async (ref: string, opts: { run?: string; json?: boolean }) => {
      const client = new BerthClient();
      const id = await resolveJobId(client, ref);
      const result = await client.markSuccess(id, opts.run);
      if (opts.json) return printJson(result);
      const what = result.allocIds.length > 0 ? `${result.allocIds.length} failed allocation${result.allocIds.length === 1 ? '' : 's'} of job "${id}"` : `run ${result.run}`;
      process.stdout.write(`Marked ${what} successful (by ${result.marked.by}); the jobs that wait for it go on.\n`);
    });
}
