/**
 * `berth compose up`'s builds: on a one-node target, each service with `build` is built through
 * the Engine API of that node's dockerd (the engine this CLI reaches at DOCKER_HOST, checked to
 * be the node's by its engine ID) before the service is registered; an image already there is
 * kept unless `--build`.
 */
import type Docker from 'dockerode';
import type { BerthClient } from '../api/index.ts';
import type { MappedService } from '../compose/index.ts';
import { buildImage, connectDocker, defaultDockerHost, dockerMessage } from '../drivers/index.ts';
import type { Node } from '../model/index.ts';
import { CliError } from './errors.ts';

/** Options of `buildServices`. */
export interface BuildOptions {
  /** Build even when the image exists (`up --build`). Default false. */
  always?: boolean;
  /** Prints a progress line for a service. */
  say: (service: string, what: string) => void;
}

/** The one ready node's Docker engine, reached at DOCKER_HOST and checked by its engine ID; or why not. */
export type NodeEngine = { ok: true; docker: Docker; node: Node; host: string } | { ok: false; why: string };

/** The engine of a one-node target, when this CLI reaches it (DOCKER_HOST) and it is that node's. */
export async function nodeEngine(client: BerthClient): Promise<NodeEngine> {
  const nodes = (await client.listNodes()).value.filter((n) => n.status === 'ready' && n.eligible);
  if (nodes.length !== 1) return { ok: false, why: `berth reaches a node's engine on a one-node cluster only, and ${nodes.length} nodes are ready` };
  const [node] = nodes;
  const host = defaultDockerHost();
  const docker = connectDocker(host);
  let engineId: string | undefined;
  try {
    engineId = ((await docker.info()) as { ID?: string }).ID;
  } catch (err) {
    return { ok: false, why: `the Docker engine at ${host} (DOCKER_HOST) does not answer: ${dockerMessage(err)}` };
  }
  const nodeId = node.drivers.docker?.engineId;
  if (nodeId && nodeId === engineId) return { ok: true, docker, node, host };
  return { ok: false, why: `the Docker engine at ${host} (DOCKER_HOST) ${nodeId ? `is not node "${node.name}"'s engine` : `cannot be matched to node "${node.name}" (its agent reports no engine ID; upgrade it)`}` };
}

/** Builds the images of the services that have a build, on the one ready node's engine. */
export async function buildServices(client: BerthClient, jobs: MappedService[], o: BuildOptions): Promise<void> {
  const builds = jobs.filter((j) => j.build);
  if (builds.length === 0) return;
  const engine = await nodeEngine(client);
  if (!engine.ok) throw new CliError(`Cannot build service "${builds[0].service}": ${engine.why}; run \`berth compose up\` where DOCKER_HOST reaches the node's engine, or build and push the image and set image:`);
  const { docker, node } = engine;
  for (const job of builds) {
    const b = job.build!;
    const present = await docker.getImage(b.tag).inspect().then(() => true, () => false);
    if (present && !o.always) continue;
    o.say(job.service, `building (image ${b.tag}, context ${b.context})`);
    try {
      await buildImage(docker, b);
    } catch (err) {
      throw new CliError(`Cannot build service "${job.service}": ${(err as Error).message}`);
    }
    o.say(job.service, `built (image ${b.tag} on node ${node.name})`);
  }
}
