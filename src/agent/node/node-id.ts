import fs from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { newId } from '../../lib/index.ts';

/**
 * The node's id, kept in `<dataDir>/node-id` so that a restarted agent is the same node to the
 * server (its allocations stay its own); made on the first start.
 */
export function loadNodeId(dataDir: string): Promise<string> {
  return loadOrMake(path.join(dataDir, 'node-id'), newId, 0o644);
}

/**
 * The node's secret, kept in `<dataDir>/node-secret` (mode 600): the server binds the node id to it
 * at the first registration, and after that only this agent may register, heartbeat and report as
 * the node; servers show it back when they proxy logs, exec and stats to this agent.
 */
export function loadNodeSecret(dataDir: string): Promise<string> {
  return loadOrMake(path.join(dataDir, 'node-secret'), () => randomBytes(32).toString('base64url'), 0o600);
}

/** The value kept in `file`, or, on the first start, a new one written there. */
async function loadOrMake(file: string, make: () => string, mode: number): Promise<string> {
  try {
    const value = (await fs.readFile(file, 'utf8')).trim();
    if (value) return value;
  } catch {
    // First start: make one below.
  }
  const value = make();
  await fs.writeFile(file, value, { mode });
  return value;
}
