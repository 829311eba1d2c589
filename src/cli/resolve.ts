/**
 * The IDs people type: the short ones the CLI prints. Allocations, evaluations and deployments are
 * resolved by the server; jobs and nodes here, because their routes take exact IDs (a prefix that
 * reached `POST /v1/jobs/web/scale` could act on `webapp`).
 */
import type { BerthClient } from '../api/index.ts';
import { findByIdPrefix, isBerthError, type Node } from '../model/index.ts';
import { CliError } from './errors.ts';

/** A job by its exact ID, else by a unique prefix of any length (job IDs are names people chose). */
export async function resolveJobId(client: BerthClient, ref: string): Promise<string> {
  try {
    return (await client.getJob(ref)).id;
  } catch (err) {
    if (!isBerthError(err, 'not_found')) throw err;
  }
  const { value: jobs } = await client.listJobs();
  return findByIdPrefix(jobs, ref, { what: 'job', minLength: 1, listCommand: 'berth job status' }).id;
}

/** A node by its exact ID, its name, or a unique ID prefix of 4 or more characters (as `node status` prints it). */
export async function resolveNode(client: BerthClient, ref: string): Promise<Node> {
  const { value: nodes } = await client.listNodes();
  const label = (n: Node): string => `${n.id} (${n.name}, ${n.status})`;
  const exact = nodes.find((n) => n.id === ref);
  if (exact) return exact;
  const named = nodes.filter((n) => n.name === ref);
  if (named.length > 1) {
    // Two nodes of one name: an agent came back with a new data dir. Only the ID tells them apart.
    throw new CliError(`Cannot find node "${ref}": ${named.length} nodes have that name; give the ID of one of:\n${named.map((n) => `  ${label(n)}`).join('\n')}`);
  }
  if (named.length === 1) return named[0];
  return findByIdPrefix(nodes, ref, { what: 'node', label, listCommand: 'berth node status' });
}
