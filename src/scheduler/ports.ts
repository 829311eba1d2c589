import type { AllocatedPort, Group, Node } from '../model/index.ts';
import { randomInt, type Random } from './random.ts';

/** Random picks tried before scanning the range, so that a nearly full range still finds a port. */
const RANDOM_TRIES = 20;

/**
 * Gives each of the group's ports a host port on the node: static ones as asked, dynamic ones
 * picked at random from the node's range, avoiding `used` and each other. Random rather than
 * lowest-first, so that a port freed a moment ago is not handed out at once to another allocation.
 * Undefined when the range runs out (the port checker should have said so first).
 */
export function assignPorts(group: Group, node: Node, pool: { used: ReadonlySet<number>; random: Random }): AllocatedPort[] | undefined {
  const { used, random } = pool;
  const taken = new Set(used);
  for (const spec of group.ports) if (spec.static !== undefined) taken.add(spec.static);
  const ports: AllocatedPort[] = [];
  for (const spec of group.ports) {
    const value = spec.static ?? pickPort(node.portRange, taken, random);
    if (value === undefined) return undefined;
    taken.add(value);
    ports.push({ label: spec.label, value, to: spec.to ?? value });
  }
  return ports;
}

function pickPort(range: { min: number; max: number }, taken: ReadonlySet<number>, random: Random): number | undefined {
  if (range.max < range.min) return undefined;
  for (let i = 0; i < RANDOM_TRIES; i++) {
    const port = randomInt(random, range.min, range.max);
    if (!taken.has(port)) return port;
  }
  const size = range.max - range.min + 1;
  const start = randomInt(random, 0, size - 1);
  for (let i = 0; i < size; i++) {
    const port = range.min + ((start + i) % size);
    if (!taken.has(port)) return port;
  }
  return undefined;
}
