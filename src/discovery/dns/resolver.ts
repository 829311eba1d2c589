/**
 * Answers one DNS question from the zone, as Consul's DNS interface does:
 *
 *   [TAG.]NAME.service[.DC].DOMAIN      A / AAAA of healthy instances, shuffled
 *   _NAME._TAG.service[.DC].DOMAIN      RFC 2782 SRV (`_tcp` and `_udp` mean any tag)
 *   NAME.service[.DC].DOMAIN SRV        SRV with the targets' addresses in the additional section
 *   NODE.node[.DC].DOMAIN               A / AAAA of a node
 *
 * Unknown names get NXDOMAIN, known names without that record type NOERROR and no answers, both
 * with the zone's SOA in the authority section. Names outside the domains are not ours (REFUSED,
 * or forwarded by the server when upstreams are set).
 */
import net from 'node:net';
import type { Answer, Question } from 'dns-packet';
import type { DnsInstance, DnsZoneData } from './zone.ts';

/** DNS response codes berth uses. */
export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

/** Resolver settings. */
export interface ResolverOptions {
  /** Domains served, lowercase, without the trailing dot: `berth`, and `consul` when asked for. */
  domains: string[];
  /** TTL of answers, seconds. Default 0: instances come and go. */
  ttl: number;
}

/** What a question resolves to. */
export interface Resolution {
  rcode: number;
  answers: Answer[];
  additionals: Answer[];
  authorities: Answer[];
  /** False when the name is outside every served domain. */
  ours: boolean;
}

/** Fisher-Yates, in place: each query sees instances in a new order, spreading load. */
export function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

/** Resolve one question. */
export function resolve(zone: DnsZoneData, q: Question, o: ResolverOptions): Resolution {
  const name = q.name.toLowerCase().replace(/\.$/, '');
  const domain = o.domains.find((d) => name === d || name.endsWith(`.${d}`));
  if (domain === undefined) return { rcode: RCODE.REFUSED, answers: [], additionals: [], authorities: [], ours: false };
  const soa = soaRecord(domain, zone, o);
  const none = (rcode: number): Resolution => ({ rcode, answers: [], additionals: [], authorities: [soa], ours: true });
  if (name === domain) {
    if (q.type === 'SOA') return { rcode: RCODE.NOERROR, answers: [soa], additionals: [], authorities: [], ours: true };
    if (q.type === 'NS') return { rcode: RCODE.NOERROR, answers: [{ name: domain, type: 'NS', ttl: o.ttl, data: `ns.${domain}` }], additionals: [], authorities: [], ours: true };
    return none(RCODE.NOERROR);
  }
  const labels = name.slice(0, -(domain.length + 1)).split('.');
  // An optional datacenter label sits right before the domain.
  let dc = zone.datacenter;
  const kindAt = Math.max(labels.lastIndexOf('service'), labels.lastIndexOf('node'), labels.lastIndexOf('addr'));
  if (kindAt < 0 || kindAt < labels.length - 2) return none(RCODE.NXDOMAIN);
  if (kindAt === labels.length - 2) dc = labels[labels.length - 1];
  const kind = labels[kindAt];
  const head = labels.slice(0, kindAt);
  if (kind === 'addr') {
    const hex = head.length === 1 && /^[0-9a-f]{8}$/.test(head[0]) ? head[0] : undefined;
    if (!hex) return none(RCODE.NXDOMAIN);
    return withSoa(addressRecords(q.name, [[...Buffer.from(hex, 'hex')].join('.')], q.type, o.ttl), soa);
  }
  if (kind === 'node') {
    const node = head.length === 1 ? zone.nodes[head[0]] : undefined;
    if (!node || node.datacenter !== dc) return none(RCODE.NXDOMAIN);
    const answers = addressRecords(q.name, [node.address], q.type, o.ttl);
    return answers.length > 0 || q.type === 'A' || q.type === 'AAAA' || (q.type as string) === 'ANY' ? withSoa(answers, soa) : none(RCODE.NOERROR);
  }
  return resolveService(zone, q, head, dc, domain, soa, o);
}

function withSoa(answers: Answer[], soa: Answer, additionals: Answer[] = []): Resolution {
  return { rcode: RCODE.NOERROR, answers, additionals, authorities: answers.length === 0 ? [soa] : [], ours: true };
}

function resolveService(zone: DnsZoneData, q: Question, head: string[], dc: string, domain: string, soa: Answer, o: ResolverOptions): Resolution {
  let service: string | undefined;
  let tag: string | undefined;
  if (head.length === 2 && head[0].startsWith('_') && head[1].startsWith('_')) {
    service = head[0].slice(1);
    tag = head[1] === '_tcp' || head[1] === '_udp' ? undefined : head[1].slice(1);
  } else if (head.length === 1) {
    service = head[0];
  } else if (head.length === 2) {
    [tag, service] = head;
  }
  const all = service === undefined ? undefined : zone.services[service];
  const nx = { rcode: RCODE.NXDOMAIN, answers: [], additionals: [], authorities: [soa], ours: true };
  if (!all) return nx;
  const picked = all.filter((i) => i.healthy && i.datacenter === dc && (tag === undefined || i.tags.includes(tag)));
  // Consul answers a service with no healthy instance (for this tag or datacenter) with NXDOMAIN.
  if (picked.length === 0) return nx;
  shuffle(picked);
  if (q.type === 'SRV') return srvRecords(q.name, picked, domain, o.ttl, soa);
  const answers = addressRecords(q.name, unique(picked.map((i) => i.address)), q.type, o.ttl);
  return withSoa(answers, soa);
}

function unique(items: string[]): string[] {
  return [...new Set(items)];
}

/** A and AAAA records for the addresses that fit the question type. */
function addressRecords(name: string, addresses: string[], type: string, ttl: number): Answer[] {
  const out: Answer[] = [];
  for (const address of addresses) {
    const family = net.isIP(address);
    if (family === 4 && (type === 'A' || type === 'ANY')) out.push({ name, type: 'A', ttl, data: address });
    if (family === 6 && (type === 'AAAA' || type === 'ANY')) out.push({ name, type: 'AAAA', ttl, data: address });
  }
  return out;
}

/**
 * SRV answers whose targets name the node (`NODE.node.DC.DOMAIN`), or `<hex ip>.addr.DC.DOMAIN`
 * for an instance that advertises another address, with those addresses as additionals.
 */
function srvRecords(name: string, instances: DnsInstance[], domain: string, ttl: number, soa: Answer): Resolution {
  const answers: Answer[] = [];
  const additionals: Answer[] = [];
  const seen = new Set<string>();
  for (const inst of instances) {
    const target = `${targetLabel(inst)}.${inst.datacenter}.${domain}`;
    answers.push({ name, type: 'SRV', ttl, data: { priority: 1, weight: 1, port: inst.port, target } });
    if (seen.has(target)) continue;
    seen.add(target);
    additionals.push(...addressRecords(target, [inst.address], 'ANY', ttl));
  }
  return withSoa(answers, soa, additionals);
}

function targetLabel(inst: DnsInstance): string {
  if (net.isIPv4(inst.address)) return `${Buffer.from(inst.address.split('.').map(Number)).toString('hex')}.addr`;
  return `${inst.nodeName}.node`;
}

/** The zone's SOA, Consul's defaults (negative TTL 0, so a new instance is seen at once). */
function soaRecord(domain: string, zone: DnsZoneData, o: ResolverOptions): Answer {
  return {
    name: domain,
    type: 'SOA',
    ttl: o.ttl,
    data: { mname: `ns.${domain}`, rname: `hostmaster.${domain}`, serial: zone.index >>> 0, refresh: 3600, retry: 600, expire: 86400, minimum: 0 },
  };
}
