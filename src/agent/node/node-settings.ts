import os from 'node:os';
import type { NodeRegisterRequest } from '../../api/index.ts';
import { BerthError, type DriverName } from '../../model/index.ts';
import type { Fingerprint } from './fingerprint.ts';

/** What an operator says about the node; the rest of its registration is fingerprinted. */
export interface NodeSettings {
  /** Default: the host name. Must be unique in the cluster. */
  nodeName?: string;
  /** Default dc1. */
  datacenter?: string;
  /** Address other hosts reach this node's task ports at. Default 127.0.0.1 (the agent finds a better one: node/address.ts). */
  address?: string;
  /** Driver for tasks that name none: docker when an engine answers, else process ('auto', the default). */
  defaultDriver?: DriverName | 'auto';
  /** Host ports for dynamic ports. Default 20000-32000. */
  portRange?: { min: number; max: number };
  /** The node's class, for `${node.class}` constraints. Default none. */
  nodeClass?: string;
  /** Operator-set metadata, for `${meta.<name>}` constraints. Default none. */
  meta?: Record<string, string>;
  /** CPU (cores) and memory (MiB) kept for the host itself: the node offers the rest. Default none. */
  reserved?: { cpu?: number; memoryMiB?: number };
}

/** What the registration is built from. */
export interface RegistrationInput {
  nodeId: string;
  settings: NodeSettings;
  facts: Fingerprint;
  /** Where the agent's own endpoint listens (logs, stats, exec). */
  httpAddr: string;
}

/**
 * The node as the agent registers it: the settings with their defaults, over the host's facts.
 * Throws when the reserved share leaves nothing to offer (`offeredResources`). Pure.
 */
export function registrationRequest({ nodeId, settings: s, facts, httpAddr }: RegistrationInput): NodeRegisterRequest {
  const offered = offeredResources(facts.resources, s.reserved);
  if (!offered.ok) throw new BerthError('invalid_input', offered.error);
  const reserved = s.reserved ?? {};
  return {
    id: nodeId,
    name: s.nodeName ?? os.hostname(),
    datacenter: s.datacenter ?? 'dc1',
    address: s.address ?? '127.0.0.1',
    httpAddr: httpAddr.replace('[::1]', '127.0.0.1'),
    drivers: facts.drivers,
    defaultDriver: resolveDefaultDriver(s.defaultDriver, facts.drivers),
    attributes: {
      ...facts.attributes,
      ...(reserved.cpu ? { 'cpu.reserved': String(reserved.cpu) } : {}),
      ...(reserved.memoryMiB ? { 'memory.reservedMiB': String(reserved.memoryMiB) } : {}),
    },
    resources: offered.value,
    portRange: s.portRange ?? { min: 20000, max: 32000 },
    ...(s.nodeClass ? { nodeClass: s.nodeClass } : {}),
    ...(s.meta && Object.keys(s.meta).length ? { meta: s.meta } : {}),
  };
}

/**
 * The host's resources less what is reserved for the host, or why nothing would be left: a node
 * offering no CPU or memory could never take an allocation, which is a mistake worth stopping for.
 */
export function offeredResources(total: Fingerprint['resources'], reserved: NodeSettings['reserved'] = {}): { ok: true; value: Fingerprint['resources'] } | { ok: false; error: string } {
  const cpu = Math.round((total.cpu - (reserved.cpu ?? 0)) * 1000) / 1000;
  const memoryMiB = total.memoryMiB - (reserved.memoryMiB ?? 0);
  if (cpu <= 0) return { ok: false, error: `Cannot start the agent: --reserve-cpu ${reserved.cpu} keeps all of this host's ${total.cpu} cores for the host, leaving none for tasks; reserve less than ${total.cpu}` };
  if (memoryMiB <= 0) return { ok: false, error: `Cannot start the agent: --reserve-memory ${size(reserved.memoryMiB ?? 0)} keeps all of this host's ${size(total.memoryMiB)} for the host, leaving none for tasks; reserve less than ${size(total.memoryMiB)}` };
  return { ok: true, value: { cpu, memoryMiB } };
}

/** MiB as the flags write sizes: `1Gi`, `512Mi`. */
function size(mib: number): string {
  for (const [unit, n] of [['Ti', 1024 * 1024], ['Gi', 1024]] as const) if (mib % n === 0) return `${mib / n}${unit}`;
  return `${mib}Mi`;
}

/** 'auto' (the default) is docker when its engine answered the fingerprint, else process. */
export function resolveDefaultDriver(wanted: DriverName | 'auto' | undefined, infos: Fingerprint['drivers']): DriverName {
  if (wanted && wanted !== 'auto') return wanted;
  return infos.docker?.detected && infos.docker.healthy ? 'docker' : 'process';
}
