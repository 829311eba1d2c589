import os from 'node:os';
import type { NodeRegisterRequest } from '../../api/index.ts';
import type { DriverName } from '../../model/index.ts';
import type { Fingerprint } from './fingerprint.ts';

/** What an operator says about the node; the rest of its registration is fingerprinted. */
export interface NodeSettings {
  /** Default: the host name. Must be unique in the cluster. */
  nodeName?: string;
  /** Default dc1. */
  datacenter?: string;
  /** Address other hosts reach this node's task ports at. Default 127.0.0.1. */
  address?: string;
  /** Driver for tasks that name none: docker when an engine answers, else process ('auto', the default). */
  defaultDriver?: DriverName | 'auto';
  /** Host ports for dynamic ports. Default 20000-32000. */
  portRange?: { min: number; max: number };
  /** The node's class, for `${node.class}` constraints. Default none. */
  nodeClass?: string;
  /** Operator-set metadata, for `${meta.<name>}` constraints. Default none. */
  meta?: Record<string, string>;
}

/** What the registration is built from. */
export interface RegistrationInput {
  nodeId: string;
  settings: NodeSettings;
  facts: Fingerprint;
  /** Where the agent's own endpoint listens (logs, stats, exec). */
  httpAddr: string;
}

/** The node as the agent registers it: the settings with their defaults, over the host's facts. Pure. */
export function registrationRequest({ nodeId, settings: s, facts, httpAddr }: RegistrationInput): NodeRegisterRequest {
  return {
    id: nodeId,
    name: s.nodeName ?? os.hostname(),
    datacenter: s.datacenter ?? 'dc1',
    address: s.address ?? '127.0.0.1',
    httpAddr: httpAddr.replace('[::1]', '127.0.0.1'),
    attributes: facts.attributes,
    drivers: facts.drivers,
    defaultDriver: resolveDefaultDriver(s.defaultDriver, facts.drivers),
    resources: facts.resources,
    portRange: s.portRange ?? { min: 20000, max: 32000 },
    ...(s.nodeClass ? { nodeClass: s.nodeClass } : {}),
    ...(s.meta && Object.keys(s.meta).length ? { meta: s.meta } : {}),
  };
}

/** 'auto' (the default) is docker when its engine answered the fingerprint, else process. */
export function resolveDefaultDriver(wanted: DriverName | 'auto' | undefined, infos: Fingerprint['drivers']): DriverName {
  if (wanted && wanted !== 'auto') return wanted;
  return infos.docker?.detected && infos.docker.healthy ? 'docker' : 'process';
}
