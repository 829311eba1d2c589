import type { DriverName, Group, Job, Node } from '../model/index.ts';
import { toMilli, type PlanUsage } from './usage.ts';

/** What one allocation of a group needs from a node. */
export interface Demand {
  cpuMilli: number;
  memoryMiB: number;
  /** Host ports asked for by number. */
  staticPorts: number[];
  /** How many host ports must be picked from the node's range. */
  dynamicPorts: number;
}

/** The demand of a group: the sum of its tasks, and its ports. */
export function groupDemand(group: Group): Demand {
  return {
    cpuMilli: group.tasks.reduce((sum, t) => sum + toMilli(t.resources.cpu), 0),
    memoryMiB: group.tasks.reduce((sum, t) => sum + t.resources.memoryMiB, 0),
    staticPorts: group.ports.flatMap((p) => (p.static === undefined ? [] : [p.static])),
    dynamicPorts: group.ports.filter((p) => p.static === undefined).length,
  };
}

/** One placement being looked for: a group of a job, and what the plan has taken so far. */
export interface PlacementAsk {
  job: Job;
  group: Group;
  demand: Demand;
  usage: PlanUsage;
}

/** `true`, or the reason a node cannot take the placement ("memory exhausted"). */
export type Feasibility = true | string;

/**
 * One test a node must pass. Reasons are short and stable, because failures count nodes by
 * reason and `job plan` shows the counts.
 */
export interface FeasibilityChecker {
  readonly name: string;
  feasible(node: Node, ask: PlacementAsk): Feasibility;
}

/** The node is up and takes new work. */
export const nodeReadyChecker: FeasibilityChecker = {
  name: 'node-ready',
  feasible: (node) => {
    if (node.status !== 'ready') return `node ${node.status}`;
    return node.eligible ? true : 'node ineligible';
  },
};

/** The node is in one of the job's datacenters. */
export const datacenterChecker: FeasibilityChecker = {
  name: 'datacenter',
  feasible: (node, ask) => (ask.job.datacenters.includes(node.datacenter) ? true : 'datacenter not in job'),
};

/** Every task's driver (the node's default for tasks that name none) is detected and healthy. */
export const driverChecker: FeasibilityChecker = {
  name: 'driver',
  feasible: (node, ask) => {
    for (const task of ask.group.tasks) {
      const name: DriverName = task.driver ?? node.defaultDriver;
      const info = node.drivers[name];
      if (info === undefined || !info.detected) return `missing driver ${name}`;
      if (!info.healthy) return `unhealthy driver ${name}`;
    }
    return true;
  },
};

/** The group's CPU and memory fit in what the node has left. */
export const resourceChecker: FeasibilityChecker = {
  name: 'resources',
  feasible: (node, ask) => {
    const used = ask.usage.used(node.id);
    if (used.cpuMilli + ask.demand.cpuMilli > toMilli(node.resources.cpu)) return 'cpu exhausted';
    if (used.memoryMiB + ask.demand.memoryMiB > node.resources.memoryMiB) return 'memory exhausted';
    return true;
  },
};

/** The static ports are free, and the node's range has enough free ports for the dynamic ones. */
export const portChecker: FeasibilityChecker = {
  name: 'ports',
  feasible: (node, ask) => {
    const used = ask.usage.used(node.id);
    const taken = ask.demand.staticPorts.find((port) => used.ports.has(port));
    if (taken !== undefined) return `port ${taken} in use`;
    if (ask.demand.dynamicPorts === 0) return true;
    const { min, max } = node.portRange;
    let busy = 0;
    for (const port of used.ports) if (port >= min && port <= max) busy++;
    for (const port of ask.demand.staticPorts) if (port >= min && port <= max) busy++;
    return max - min + 1 - busy >= ask.demand.dynamicPorts ? true : 'dynamic ports exhausted';
  },
};

/** The checkers in order; cheap ones that reject whole classes of nodes come first. */
export const FEASIBILITY_CHAIN: readonly FeasibilityChecker[] = [
  // Down, initializing or drained nodes take nothing.
  nodeReadyChecker,
  // The job says where it may run.
  datacenterChecker,
  // A node without the driver cannot start the task at all.
  driverChecker,
  // Capacity, which depends on what the plan has placed so far.
  resourceChecker,
  // Ports last: the most specific, and the reason users find hardest to guess.
  portChecker,
];

/** Runs a node through the chain: `true`, or the first checker's reason. */
export function checkNode(node: Node, ask: PlacementAsk, chain: readonly FeasibilityChecker[] = FEASIBILITY_CHAIN): Feasibility {
  for (const checker of chain) {
    const verdict = checker.feasible(node, ask);
    if (verdict !== true) return verdict;
  }
  return true;
}
