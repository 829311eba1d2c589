import type { Endpoint } from '../../proxy/index.ts';
import { formatAddress, type IngressPlan } from './ingress-plan.ts';
import { backendsOf, slotCount, type Slots } from './haproxy-config.ts';

/** How a plan is carried out on HAProxy: the new slots, and runtime commands or a reload. */
export interface SlotChange {
  slots: Map<string, Slots>;
  /** Runtime API commands that move the running worker to `slots` (when no reload is needed). */
  commands: string[];
  /** A backend is new or gone, or has too few slots: the configuration must be written and reloaded. */
  reload: boolean;
}

const same = (a: Endpoint, b: Endpoint): boolean => a.id === b.id && a.host === b.host && a.port === b.port;

/**
 * Fill each backend's slots with its service's endpoints, pure: an endpoint that stays keeps its
 * slot (its connections are not touched); a gone one's slot is parked and its sessions shut (as
 * the built-in router closes a removed endpoint's connections); a new one takes a free slot.
 */
export function assignSlots(current: ReadonlyMap<string, Slots>, plan: IngressPlan): SlotChange {
  const slots = new Map<string, Slots>();
  const commands: string[] = [];
  const backends = backendsOf(plan);
  let reload = [...current.keys()].some((b) => !backends.has(b));
  for (const [backend, service] of backends) {
    const wanted = plan.endpoints.get(service) ?? [];
    const had = current.get(backend);
    if (!had) reload = true;
    const next: Slots = had ? had.map((e) => (e && wanted.some((w) => same(w, e)) ? e : undefined)) : [];
    next.forEach((e, i) => {
      if (!e && had?.[i]) commands.push(`set server ${backend}/s${i + 1} state maint`, `shutdown sessions server ${backend}/s${i + 1}`);
    });
    const fresh = wanted.filter((w) => !next.some((e) => e && same(e, w)));
    // A running worker's slots are fixed: more new instances than parked slots need a reload with more.
    const grow = !had || fresh.length > next.filter((e) => e === undefined).length;
    if (grow) reload = true;
    for (const e of fresh) {
      let i = next.findIndex((slot) => slot === undefined);
      if (i < 0) i = next.push(undefined) - 1;
      next[i] = e;
      commands.push(`set server ${backend}/s${i + 1} addr ${e.host} port ${e.port}`, `set server ${backend}/s${i + 1} state ready`);
    }
    if (grow) while (next.length < slotCount(wanted.length)) next.push(undefined);
    slots.set(backend, next);
  }
  return { slots, commands: reload ? [] : commands, reload };
}

/** For logs: what each backend's slots hold. */
export function describeSlots(slots: ReadonlyMap<string, Slots>): Record<string, string[]> {
  return Object.fromEntries([...slots].map(([b, s]) => [b, s.filter((e): e is Endpoint => e !== undefined).map(formatAddress)]));
}
