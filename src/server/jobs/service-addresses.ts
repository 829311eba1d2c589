/**
 * Service addresses: each service name a job registers gets one IPv4 address from the server's
 * range, written in the same txn as the job and never changed after, so that every node's agent
 * listens on the same address and DNS answers the same one everywhere (Swarm's and Kubernetes'
 * virtual IP per service). Rows are keyed by address: a txn that claims an address another
 * registration took in the meantime fails its compare and is rebuilt on a fresh view.
 */
import { BerthError, type Group, type ServiceAddress } from '../../model/index.ts';
import type { StateView, Write } from '../../state/index.ts';

/** The default range: RFC 2544's benchmarking block, routed nowhere, so it collides with no real network. */
export const DEFAULT_SERVICE_ADDRESS_RANGE = '198.18.0.0/16';

/** An IPv4 range, as numbers: the first and last address given out (the network and broadcast ones are not). */
export interface AddressRange {
  cidr: string;
  first: number;
  last: number;
}

/** Parses `a.b.c.d/n` (n from 8 to 30); throws `invalid_input` naming the flag's value and the fix. */
export function parseAddressRange(cidr: string): AddressRange {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(cidr.trim());
  const bits = m ? Number(m[2]) : NaN;
  const base = m ? ipToNumber(m[1]) : undefined;
  if (!m || base === undefined || bits < 8 || bits > 30) {
    throw new BerthError('invalid_input', `Cannot use service address range "${cidr}": expected an IPv4 CIDR block from /8 to /30, such as ${DEFAULT_SERVICE_ADDRESS_RANGE}`);
  }
  const size = 2 ** (32 - bits);
  const network = base - (base % size);
  return { cidr, first: network + 1, last: network + size - 2 };
}

/** `a.b.c.d` as a number, or undefined when it is not one. */
export function ipToNumber(ip: string): number | undefined {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return undefined;
  return ((parts[0] * 256 + parts[1]) * 256 + parts[2]) * 256 + parts[3];
}

/** A number as `a.b.c.d`. */
export function numberToIp(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}

/** The port a service answers on at its address: its port label's `to`, else its static port; none for a dynamic port without `to`. */
export function servicePort(group: Pick<Group, 'ports'>, portLabel: string | undefined): number | undefined {
  const port = group.ports.find((p) => p.label === portLabel);
  return port?.to ?? port?.static;
}

/** Each service name a job's groups and tasks register, with the ports it answers on. */
export function jobServicePorts(groups: readonly Group[]): Map<string, Set<number>> {
  const out = new Map<string, Set<number>>();
  for (const group of groups) {
    const services = [...(group.services ?? []), ...group.tasks.flatMap((t) => t.services ?? [])];
    for (const s of services) {
      const ports = out.get(s.name) ?? new Set<number>();
      const port = servicePort(group, s.portLabel);
      if (port !== undefined) ports.add(port);
      out.set(s.name, ports);
    }
  }
  return out;
}

/** The address of each service name: when a race gave one name two, the lowest address is its own. */
export function addressesByService(rows: readonly ServiceAddress[]): Map<string, ServiceAddress> {
  const out = new Map<string, ServiceAddress>();
  for (const row of rows) {
    const have = out.get(row.service);
    if (!have || (ipToNumber(row.address) ?? 0) < (ipToNumber(have.address) ?? 0)) out.set(row.service, row);
  }
  return out;
}

/**
 * The writes that give each service of a job its address (a free one of the range, the lowest
 * first) or add the job's ports to the address it has. Nothing when every service has both.
 */
export function serviceAddressWrites(view: StateView, groups: readonly Group[], range: AddressRange): Write[] {
  const rows = view.serviceAddresses();
  const byService = addressesByService(rows);
  const used = new Set(rows.map((r) => ipToNumber(r.address)));
  const writes: Write[] = [];
  let next = range.first;
  for (const [service, ports] of jobServicePorts(groups)) {
    const have = byService.get(service);
    if (have) {
      const merged = [...new Set([...have.ports, ...ports])].sort((a, b) => a - b);
      if (merged.length === have.ports.length) continue;
      writes.push({ table: 'serviceAddresses', id: have.address, value: { ...have, ports: merged }, ifModRevision: view.modRevision('serviceAddresses', have.address) });
      continue;
    }
    while (next <= range.last && used.has(next)) next++;
    if (next > range.last) {
      throw new BerthError('unavailable', `Cannot give service "${service}" an address: every address of ${range.cidr} is taken; start the servers with a larger --service-address-range`);
    }
    used.add(next);
    const value: ServiceAddress = { service, address: numberToIp(next), ports: [...ports].sort((a, b) => a - b) };
    writes.push({ table: 'serviceAddresses', id: value.address, value, ifModRevision: 0 });
  }
  return writes;
}
