import type { Constraint, DriverName, Group, Job, Node } from '../model/index.ts';
import { constraintReason, nodeMatches, resolveAttribute } from './constraints.ts';
import type { JobPresence } from './presence.ts';
import { toMilli, type PlanUsage } from './plan-usage.ts';

/** What one allocation of a group needs from a node. */
export interface Demand {
  cpuMilli: number;
  memoryMiB: number;
  diskMiB: number;
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
    diskMiB: group.tasks.reduce((sum, t) => sum + (t.resources.diskMiB ?? 0), 0),
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
  /** The job's live allocations during the pass; absent: the job has none anywhere. */
  presence?: JobPresence;
  /** The job's and the group's constraints, merged (see `groupConstraints`). */
  constraints?: readonly GroupConstraint[];
  /** Nodes to avoid: where the allocation being replaced failed. */
  penaltyNodes?: ReadonlySet<string>;
  /**
   * Verdicts of the static checkers (`STATIC_CHAIN`) by node id, kept for the pass: a node's
   * attributes do not change while a plan is built, so each is checked once per group.
   */
  staticVerdicts?: Map<string, Feasibility>;
}

/** A constraint with the scope it came from: distinct_* at job level count across groups. */
export interface GroupConstraint extends Constraint {
  scope: 'job' | 'group';
}

/** The constraints a group's placements obey: the job's, then the group's. */
export function groupConstraints(job: Job, group: Group): GroupConstraint[] {
  return [
    ...(job.constraints ?? []).map((c) => ({ ...c, scope: 'job' as const })),
    ...(group.constraints ?? []).map((c) => ({ ...c, scope: 'group' as const })),
  ];
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
    if (node.drain !== undefined) return 'node draining';
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
    if (ask.demand.diskMiB > 0 && used.diskMiB + ask.demand.diskMiB > (node.resources.diskMiB ?? 0)) return 'disk exhausted';
    return true;
  },
};

/**
 * What one allocation asks of `dimension` (`cpu`, `memory`, `disk`, `ports`, `allocations`, as
 * the stack names exhausted dimensions) and what `node` has free of it, for placement failures.
 */
export function roomFor(node: Node, ask: PlacementAsk, dimension: string): { ask: number; free: number } | undefined {
  const used = ask.usage.used(node.id);
  switch (dimension) {
    case 'cpu':
      return { ask: ask.demand.cpuMilli, free: toMilli(node.resources.cpu) - used.cpuMilli };
    case 'memory':
      return { ask: ask.demand.memoryMiB, free: node.resources.memoryMiB - used.memoryMiB };
    case 'disk':
      return { ask: ask.demand.diskMiB, free: (node.resources.diskMiB ?? 0) - used.diskMiB };
    case 'ports': {
      const { min, max } = node.portRange;
      let busy = 0;
      for (const port of used.ports) if (port >= min && port <= max) busy++;
      return { ask: ask.demand.dynamicPorts, free: max - min + 1 - busy };
    }
    case 'allocations':
      return node.maxAllocs === undefined ? undefined : { ask: 1, free: node.maxAllocs - used.count };
    default:
      return undefined;
  }
}

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

/** The node takes no more allocations than its `maxAllocs`, whatever their size. */
export const maxAllocsChecker: FeasibilityChecker = {
  name: 'max-allocs',
  feasible: (node, ask) => (node.maxAllocs === undefined || ask.usage.used(node.id).count < node.maxAllocs ? true : 'max allocations reached'),
};

/** The node's attributes satisfy every constraint (distinct_* aside: they have their own checker). */
export const constraintChecker: FeasibilityChecker = {
  name: 'constraints',
  feasible: (node, ask) => {
    for (const c of ask.constraints ?? []) {
      if (c.operator === 'distinct_hosts' || c.operator === 'distinct_property') continue;
      if (!nodeMatches(node, c)) return constraintReason(c);
    }
    return true;
  },
};

/**
 * `distinct_hosts`: no two allocations of the job (job-level) or group (group-level) on one node.
 * `distinct_property`: at most `value` (default 1) allocations per value of the attribute.
 */
export const distinctChecker: FeasibilityChecker = {
  name: 'distinct',
  feasible: (node, ask) => {
    for (const c of ask.constraints ?? []) {
      const group = c.scope === 'job' ? undefined : ask.group.name;
      if (c.operator === 'distinct_hosts') {
        if (ask.presence !== undefined && ask.presence.onNode(node.id, group) > 0) return 'distinct_hosts';
      } else if (c.operator === 'distinct_property') {
        const value = resolveAttribute(node, c.attribute);
        if (value === undefined) return `distinct_property ${c.attribute} not set`;
        const limit = c.value === undefined ? 1 : Number(c.value);
        const have = ask.presence?.byValue(c.attribute, group ?? '').get(value) ?? 0;
        if (have >= limit) return `distinct_property ${c.attribute}`;
      }
    }
    return true;
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
  // Attributes: static for a node, so they reject before anything that depends on the plan.
  constraintChecker,
  // A node full by count is full whatever the size.
  maxAllocsChecker,
  // Capacity, which depends on what the plan has placed so far.
  resourceChecker,
  // Ports: the most specific, and the reason users find hardest to guess.
  portChecker,
  // Where the job's other allocations are: changes with every placement.
  distinctChecker,
];

/** The checkers whose verdict depends only on the node and the job: cached per pass. */
export const STATIC_CHAIN: readonly FeasibilityChecker[] = [nodeReadyChecker, datacenterChecker, driverChecker, constraintChecker];
/** The checkers that depend on what the plan has placed so far. */
export const DYNAMIC_CHAIN: readonly FeasibilityChecker[] = [maxAllocsChecker, resourceChecker, portChecker, distinctChecker];

/** Runs a node through the chain: `true`, or the first checker's reason. */
export function checkNode(node: Node, ask: PlacementAsk, chain: readonly FeasibilityChecker[] = FEASIBILITY_CHAIN): Feasibility {
  const cache = ask.staticVerdicts;
  if (cache !== undefined && chain === FEASIBILITY_CHAIN) {
    let verdict = cache.get(node.id);
    if (verdict === undefined) {
      verdict = runChain(node, ask, STATIC_CHAIN);
      cache.set(node.id, verdict);
    }
    return verdict === true ? runChain(node, ask, DYNAMIC_CHAIN) : verdict;
  }
  return runChain(node, ask, chain);
}

function runChain(node: Node, ask: PlacementAsk, chain: readonly FeasibilityChecker[]): Feasibility {
  for (const checker of chain) {
    const verdict = checker.feasible(node, ask);
    if (verdict !== true) return verdict;
  }
  return true;
}
