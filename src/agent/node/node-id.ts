import fs from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { newId } from '../../lib/index.ts';

/**
 * The node's id, kept in `<dataDir>/node-id` so that a restarted agent is the same node to the
 * server (its allocations stay its own); made on the first start.
 */
export async function loadNodeId(dataDir: string): Promise<string> {
  const file = path.join(dataDir, 'node-id');
  try {
    const id = (await fs.readFile(file, 'utf8')).trim();
    if (id) return id;
  } catch {
    // First start: make one below.
  }
  const id = newId();
  await fs.writeFile(file, id);
  return id;
}

/**
 * The node's secret, kept in `<dataDir>/node-secret` (mode 600): the server binds the node id to it
 * at the first registration, and after that only this agent may register, heartbeat and report as
 * the node; servers show it back when they proxy logs, exec and stats to this agent.
 */
export async function loadNodeSecret(dataDir: string): Promise<string> {
  const file = path.join(dataDir, 'node-secret');
  try {
    const secret = (await fs.readFile(file, 'utf8')).trim();
    if (secret) return secret;
  } catch {
    // First start: make one below.
  }
  const secret = randomBytes(32).toString('base64url');
  await fs.writeFile(file, secret, { mode: 0o600 });
  return secret;
}
