import { Command, InvalidArgumentError } from 'commander';
import { stringify } from 'yaml';
import { specsYaml } from '../../compose/index.ts';
import { composeOptions, readProject } from '../compose-project.ts';
import { composeDown, composeExec, composeLogs, composeLs, composePs, composeRestart, composeScale } from '../compose-ops.ts';
import { composePlan } from '../compose-plan.ts';
import { composeUp } from '../compose-up.ts';
import { CliError } from '../errors.ts';
import { printJson } from '../output.ts';

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];
const count = (what: string) => (v: string): number => {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`must be a whole number of ${what}`);
  return Number(v);
};

/** `berth compose ...`: a Compose project on the cluster, with `docker compose`'s command names and flags. */
// eslint-disable-next-line max-lines-per-function -- a command tree: one short action per subcommand
export function composeCommand(): Command {
  const compose = new Command('compose')
    .description('Run a Compose project (compose.yaml) on the cluster: a job <project>-<service> per service')
    .option('-f, --file <file>', 'Compose file (repeat to merge several; default: compose.yaml or docker-compose.yml here or above, with its override file)', collect)
    .option('-p, --project-name <name>', 'project name (default: the top-level name:, else the directory name)')
    .option('--project-directory <dir>', 'directory relative paths and .env are read from (default: the first file\'s)')
    .option('--env-file <file>', 'file of variables for interpolation (repeat; default: .env in the project directory)', collect)
    .option('--profile <name>', 'enable services of this profile (repeat; also COMPOSE_PROFILES)', collect)
    .option('--strict', 'refuse a project that uses anything berth does not honour, instead of warning')
    .enablePositionalOptions();

  compose
    .command('config')
    .description('Print the resolved project: files merged, variables interpolated, extends and profiles applied')
    .option('--format <format>', 'yaml or json', 'yaml')
    .option('--services', 'print the service names only')
    .action((opts: { format: string; services?: boolean }, cmd: Command) => {
      const { project } = readProject(composeOptions(cmd));
      if (opts.services) return void process.stdout.write(Object.keys(project.services).join('\n') + '\n');
      const model = { name: project.name, services: project.services, networks: project.networks, volumes: project.volumes, secrets: project.secrets, configs: project.configs, ...project.extensions };
      if (opts.format === 'json') printJson(model);
      else process.stdout.write(stringify(model, { lineWidth: 0 }));
    });

  compose
    .command('convert')
    .description('Print the berth job specs of the project (a YAML document per service), as `berth job run` takes them')
    .option('--json', 'print a JSON array of job specs')
    .option('--nodes <n>', 'how many nodes the project targets (build without image is refused above 1)', count('nodes'), 1)
    .action((opts: { json?: boolean; nodes: number }, cmd: Command) => {
      const { jobs } = readProject(composeOptions(cmd), { nodes: opts.nodes });
      if (opts.json) printJson(jobs.map((j) => j.spec));
      else process.stdout.write(specsYaml(jobs));
    });

  compose
    .command('plan')
    .description('Show what `up` would change, per service in dependency order; exit 0 no change, 1 changes, 255 error')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }, cmd: Command) => composePlan({ ...composeOptions(cmd), ...opts }));

  compose
    .command('up')
    .description('Register the services\' jobs in dependency order (each once its depends_on conditions hold) and wait until each runs, is healthy or completed')
    .argument('[services...]', 'only these services (and those they depend on)')
    .option('-d, --detach', 'return once every service is registered (dependencies are still waited for)')
    .option('--remove-orphans', 'stop the jobs of services no longer in the project')
    .option('--build', 'build images before starting, even those that exist (one-node targets)')
    .option('--wait-timeout <seconds>', 'how long to wait for each service', count('seconds'), 300)
    .option('--json', 'print each service\'s registration (job, version, changed) as JSON at the end')
    .action((services: string[], opts: { detach?: boolean; removeOrphans?: boolean; build?: boolean; waitTimeout: number; json?: boolean }, cmd: Command) => composeUp({ ...composeOptions(cmd), ...opts }, services));

  compose
    .command('down')
    .description('Stop every service of the project and remove its jobs')
    .option('-v, --volumes', 'also remove named volumes (berth cannot yet: it names them)')
    .option('-t, --timeout <seconds>', 'how long to wait for allocations to stop', count('seconds'), 60)
    .option('--json', 'print the removed jobs as JSON')
    .action((opts: { volumes?: boolean; timeout: number; json?: boolean }, cmd: Command) => composeDown({ ...composeOptions(cmd), ...opts }));

  compose
    .command('ps')
    .description('List the allocations of the project\'s services')
    .argument('[services...]', 'only these services')
    .option('-a, --all', 'stopped allocations too')
    .option('--json', 'print JSON')
    .action((services: string[], opts: { all?: boolean; json?: boolean }, cmd: Command) => composePs({ ...composeOptions(cmd), ...opts }, services));

  compose
    .command('logs')
    .description('Print the output of the project\'s services, interleaved, each line after `service-N |`')
    .argument('[services...]', 'only these services')
    .option('-f, --follow', 'keep printing new output until interrupted')
    .option('-n, --tail <lines>', 'start each allocation with its last N lines', count('lines'))
    .option('--no-log-prefix', 'print the lines alone')
    .action((services: string[], opts: { follow?: boolean; tail?: number; logPrefix: boolean }, cmd: Command) => composeLogs({ ...composeOptions(cmd), ...opts, prefix: opts.logPrefix }, services));

  compose
    .command('restart')
    .description('Restart the running tasks of the project\'s services in place')
    .argument('[services...]', 'only these services')
    .option('--json', 'print the restarted allocations as JSON')
    .action((services: string[], opts: { json?: boolean }, cmd: Command) => composeRestart({ ...composeOptions(cmd), ...opts }, services));

  compose
    .command('scale')
    .description('Change how many copies of services run: SERVICE=N ...')
    .argument('<pairs...>', 'SERVICE=N')
    .option('--json', 'print the new counts as JSON')
    .action((pairs: string[], opts: { json?: boolean }, cmd: Command) => composeScale({ ...composeOptions(cmd), ...opts }, pairs));

  compose
    .command('exec')
    .description('Run a command in a running copy of a service: `berth compose exec SERVICE CMD ARGS...`')
    .argument('<service>', 'the service')
    .argument('<command...>', 'the command and its arguments (after -- when they have options)')
    .option('--index <n>', 'which copy, from 1', count('copies'), 1)
    .option('-T, --no-tty', 'no terminal, even when stdin is one')
    .passThroughOptions()
    .action((service: string, command: string[], opts: { index: number; tty: boolean }, cmd: Command) => composeExec({ ...composeOptions(cmd), ...opts }, service, command));

  compose
    .command('pull')
    .description('Not in berth yet: each node pulls a service\'s image when its task starts, as pull_policy says')
    .argument('[services...]', 'services')
    .action(() => {
      throw new CliError('Cannot pull: berth has no pull of its own yet; each node pulls an image when a task starts (pull_policy: missing by default; always re-pulls on every start)');
    });

  compose
    .command('ls')
    .description('List the Compose projects the cluster runs')
    .option('-a, --all', 'stopped projects too')
    .option('--json', 'print JSON')
    .action((opts: { all?: boolean; json?: boolean }) => composeLs(opts));

  return compose;
}
