import type { ServerPool } from '../../api/index.ts';
import type { TaskDriver } from '../../drivers/index.ts';
import type { Clock, Logger } from '../../lib/index.ts';
import type { DriverName } from '../../model/index.ts';
import type { AllocHook, HookedAlloc } from '../allocs/alloc-hook.ts';
import type { AgentServices } from '../services/index.ts';
import { dnsHook } from './dns.ts';
import { upstreamsHook } from './upstreams.ts';
import { logForwardHook } from './log-forward.ts';
import type { LogForwarder } from '../logs/log-forwarder.ts';
import { payloadHook } from './payload.ts';
import { serviceChecksHook } from './service-checks.ts';
import { templatesHook } from './templates-hook.ts';
import { workloadIdentityHook } from './workload-identity.ts';

/** What the hooks of an allocation need of the agent. */
export interface AllocHookDeps {
  nodeAddress: string;
  drivers: ReadonlyMap<DriverName, TaskDriver>;
  clock: Clock;
  logger: Logger;
  /** The servers checks report to and templates read from; without them neither runs. */
  servers?: ServerPool;
  /** DNS servers for docker tasks that set none. */
  dnsServers?: string[];
  /** The agent's service plumbing (upstream listeners, the node DNS); absent: no upstreams. */
  services?: AgentServices;
  /** Where task output is forwarded (`--log-forward`); none by default. */
  logForwarder?: LogForwarder;
}

/**
 * The hooks every allocation runs with, in the order their steps are called: the task directory
 * and payload first, then the request's DNS servers, then the upstreams (env, listeners), then the workload token (into the request's
 * env, where templates find it), then templates (rendered into that
 * directory and the request's env), then the service checks, once the tasks began, and last the
 * forwarding of task output when the agent has a `--log-forward` target.
 */
export function allocHooks(alloc: HookedAlloc, deps: AllocHookDeps): AllocHook[] {
  const services = deps.services;
  const hooks = [
    payloadHook(alloc),
    dnsHook(deps.dnsServers, () => services?.containerDns()),
    upstreamsHook(alloc, { upstreams: services?.upstreams, bridgeAddress: services?.bridgeAddress, logger: deps.logger }),
    workloadIdentityHook(alloc, deps),
    templatesHook(deps),
    serviceChecksHook(alloc, deps),
  ];
  if (deps.logForwarder) hooks.push(logForwardHook(alloc, { forwarder: deps.logForwarder, drivers: deps.drivers }));
  return hooks;
}
