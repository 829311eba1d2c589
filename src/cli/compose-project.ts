/**
 * What every `berth compose` command starts from: the project read and mapped (problems and
 * warnings reported in the CLI's words), and the jobs of a project that the cluster runs.
 */
import fs from 'node:fs';
import type { Command } from 'commander';
import { type BerthClient, type JobListItem } from '../api/index.ts';
import { loadProject, mapProject, type ComposeProject, type ComposeWarning, type MappedService } from '../compose/index.ts';
import type { Job } from '../model/index.ts';
import { paint } from './colour.ts';
import { CliError } from './errors.ts';

/** `berth compose`'s own options (before the subcommand, as with `docker compose`). */
export interface ComposeOptions {
  file?: string[];
  projectName?: string;
  projectDirectory?: string;
  envFile?: string[];
  profile?: string[];
  strict?: boolean;
}

/** A file's text, or undefined when it cannot be read. */
export function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** The `compose` command's options, from any of its subcommands. */
export function composeOptions(cmd: Command): ComposeOptions {
  return cmd.optsWithGlobals<ComposeOptions>();
}

export interface LoadedProject {
  project: ComposeProject;
  jobs: MappedService[];
  warnings: ComposeWarning[];
}

/**
 * Reads and maps the project; every problem at once as one error (exit 1). Warnings go to stderr,
 * or are an error with --strict.
 */
export function readProject(o: ComposeOptions, at: { services?: string[]; nodes?: number; quiet?: boolean } = {}): LoadedProject {
  const loaded = loadProject({
    cwd: process.cwd(),
    read: readText,
    files: o.file,
    projectName: o.projectName,
    projectDirectory: o.projectDirectory,
    envFiles: o.envFile,
    profiles: o.profile,
    services: at.services,
    environment: process.env,
  });
  if (!loaded.ok) throw new CliError(`Cannot read the Compose project:\n${loaded.problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')}`);
  const mapped = mapProject(loaded.project, { read: readText, nodes: at.nodes });
  if (mapped.problems.length > 0) throw new CliError(`Cannot run the Compose project "${loaded.project.name}" on berth:\n${mapped.problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')}`);
  const warnings = [...loaded.warnings, ...mapped.warnings];
  if (o.strict && warnings.length > 0) {
    throw new CliError(`Compose project "${loaded.project.name}" uses what berth does not honour (--strict):\n${warnings.map((w) => `  ${w.path}: ${w.message}`).join('\n')}`);
  }
  if (!at.quiet) for (const w of warnings) process.stderr.write(`${paint('yellow', 'Warning:', process.stderr)} ${w.path}: ${w.message}\n`);
  return { project: loaded.project, jobs: mapped.jobs, warnings };
}

/** How many nodes may take the project's allocations (ready and eligible). */
export async function nodeCount(client: BerthClient): Promise<number> {
  const { value: nodes } = await client.listNodes();
  return nodes.filter((n) => n.status === 'ready' && n.eligible).length;
}

/** The jobs of a project on the cluster (by the `compose_project` of their meta), stopped ones too when asked. */
export async function projectJobs(client: BerthClient, project: string, o: { stopped?: boolean } = {}): Promise<Job[]> {
  const { value: list } = await client.listJobs();
  const candidates = list.filter((j: JobListItem) => j.id.startsWith(`${project}-`) && (o.stopped || !j.stop));
  const jobs = await Promise.all(candidates.map((j) => client.getJob(j.id).catch(() => undefined)));
  return jobs.filter((j): j is Job => j !== undefined && j.meta.compose_project === project);
}

/** The service a project job runs. */
export function serviceOf(job: Job): string {
  return job.meta.compose_service ?? job.id;
}

/** The mapped services named (all when none), each name checked. */
export function selectServices(jobs: MappedService[], names: string[]): MappedService[] {
  if (names.length === 0) return jobs;
  for (const n of names) {
    if (!jobs.some((j) => j.service === n)) throw new CliError(`No service "${n}" in the project; its services: ${jobs.map((j) => j.service).join(', ')}`);
  }
  return jobs.filter((j) => names.includes(j.service));
}
