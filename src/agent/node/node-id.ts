import fs from 'node:fs/promises';
import path from 'node:path';
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
