/**
 * The last heartbeat of each node, for `GET /v1/nodes[/:id]`. The leader keeps it in memory
 * (NodeService); a follower asks the leader (`GET /v1/nodes/heartbeats`, forwarded), and when the
 * leader cannot be asked within a second the node rows' own time is shown: the last registration,
 * or the last time the node came back from down.
 */
import type { Node } from '../../model/index.ts';
import type { ServerContext } from '../context.ts';
import { FORWARDED_HEADER } from './leader-forward.ts';

const ASK_LEADER_MS = 1000;

/** Each node's last heartbeat as the leader saw it; empty when it cannot be known. */
export async function lastHeartbeats(ctx: ServerContext, credentials: Record<string, string>): Promise<Record<string, number>> {
  const cluster = ctx.cluster;
  if (!cluster || cluster.isLeader) return ctx.nodes.lastHeartbeats();
  const leader = cluster.leader;
  if (!leader) return {};
  try {
    const res = await ctx.peers.servers.fetch(`${leader.url}/v1/nodes/heartbeats`, { headers: { [FORWARDED_HEADER]: cluster.self.name, ...credentials }, signal: AbortSignal.timeout(ASK_LEADER_MS) });
    return res.ok ? ((await res.json()) as Record<string, number>) : {};
  } catch {
    return {};
  }
}

/** The node with the newer of its stored time and the heartbeat seen. */
export function withHeartbeat(node: Node, seen: Record<string, number>): Node {
  const at = seen[node.id];
  return at !== undefined && at > node.lastHeartbeat ? { ...node, lastHeartbeat: at } : node;
}
