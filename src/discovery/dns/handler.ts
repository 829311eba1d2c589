/**
 * One DNS message in, one out (or none): decoding, EDNS0, truncation, REFUSED, and a cache of
 * encoded answers. The cache is keyed by every byte of the query after its id, so a hit is a
 * query byte-for-byte equal to one already decoded and answered: malformed input never hits it.
 */
import dnsPacket, { type Answer, type DecodedPacket, type Packet } from 'dns-packet';
import { RCODE, resolve, type ResolverOptions } from './resolver.ts';
import type { DnsZoneData } from './zone.ts';

/** Counters a DNS server exposes. */
export interface DnsStats {
  queries: number;
  /** Dropped: too short, not decodable, a response, or not encodable. */
  malformed: number;
  refused: number;
  nxdomain: number;
  truncated: number;
  forwarded: number;
}

/** Classic DNS over UDP: 512 bytes unless EDNS0 says more. */
const CLASSIC_UDP = 512;
/** The most berth offers over UDP with EDNS0, a size that avoids IP fragmentation on most paths. */
const MAX_EDNS_UDP = 4096;
/** Answers cached per query; the cache is cleared when the zone changes. */
const CACHE_LIMIT = 20_000;
/** Shuffled variants kept per cached query, handed out in turn. */
const VARIANTS = 4;

/** How a question that is not ours is answered. */
export type Forwarder = (query: Buffer) => Promise<Buffer | undefined>;

interface Cached {
  variants: Buffer[];
  next: number;
}

/** Answers DNS messages from a zone. Transport-free: the UDP and TCP servers call it. */
export class DnsHandler {
  readonly stats: DnsStats = { queries: 0, malformed: 0, refused: 0, nxdomain: 0, truncated: 0, forwarded: 0 };
  readonly #options: ResolverOptions;
  readonly #zone: () => DnsZoneData;
  readonly #forward: Forwarder | undefined;
  /** Cached answers by transport (UDP answers may be truncated, TCP ones not). */
  readonly #udpCache = new Map<string, Cached>();
  readonly #tcpCache = new Map<string, Cached>();
  /** The cache entry of each cached answer buffer, for `unshare`. */
  readonly #owners = new WeakMap<Buffer, Cached>();
  #cachedZone: DnsZoneData | undefined;

  constructor(zone: () => DnsZoneData, options: ResolverOptions, forward?: Forwarder) {
    this.#zone = zone;
    this.#options = options;
    this.#forward = forward;
  }

  /**
   * The answer to one message, or undefined to drop it. `udpLimit` is false over TCP. Sync unless
   * the question is forwarded. With `shared`, a cached answer comes back as the cache's own buffer
   * with this query's id written in, saving a copy per query: the caller must be done with it
   * before the next call (a UDP send the kernel completed at once), or `unshare` it.
   */
  handle(query: Buffer, udpLimit: boolean, shared = false): Buffer | undefined | Promise<Buffer | undefined> {
    this.stats.queries++;
    if (query.length < 12 || query.length > 65535) return this.#drop();
    const zone = this.#zone();
    if (zone !== this.#cachedZone) {
      this.#udpCache.clear();
      this.#tcpCache.clear();
      this.#cachedZone = zone;
    }
    const cache = udpLimit ? this.#udpCache : this.#tcpCache;
    const key = query.toString('latin1', 2);
    const hit = cache.get(key);
    if (hit) {
      const answer = hit.variants[hit.next++ % hit.variants.length];
      if (!shared) return withId(answer, query);
      answer[0] = query[0];
      answer[1] = query[1];
      return answer;
    }
    let packet: DecodedPacket;
    try {
      packet = dnsPacket.decode(query);
    } catch {
      return this.#drop();
    }
    if (packet.flag_qr) return this.#drop();
    try {
      return this.#answer(packet, query, zone, udpLimit, (variants) => {
        if (cache.size >= CACHE_LIMIT) cache.clear();
        const entry = { variants, next: 1 };
        cache.set(key, entry);
        for (const v of variants) this.#owners.set(v, entry);
      });
    } catch {
      return this.#drop();
    }
  }

  /**
   * The cache stops using `answer` (handed out by `handle(..., shared)`) and keeps a copy instead:
   * for an answer whose send was queued, so that the next query does not rewrite it in flight.
   */
  unshare(answer: Buffer): void {
    const entry = this.#owners.get(answer);
    const i = entry?.variants.indexOf(answer) ?? -1;
    if (i < 0) return;
    const copy = Buffer.from(answer);
    entry!.variants[i] = copy;
    this.#owners.set(copy, entry!);
  }

  #drop(): undefined {
    this.stats.malformed++;
    return undefined;
  }

  #answer(packet: DecodedPacket, raw: Buffer, zone: DnsZoneData, udpLimit: boolean, remember: (variants: Buffer[]) => void): Buffer | Promise<Buffer | undefined> {
    const opt = packet.additionals?.find((a) => a.type === 'OPT') as (Answer & { udpPayloadSize?: number }) | undefined;
    const limit = udpLimit ? Math.min(MAX_EDNS_UDP, Math.max(CLASSIC_UDP, opt?.udpPayloadSize ?? CLASSIC_UDP)) : 65535;
    const base = { id: packet.id, questions: packet.questions ?? [], rd: packet.flag_rd, opt: opt !== undefined };
    if ((packet as { opcode?: string }).opcode !== 'QUERY') return this.#encode(base, RCODE.NOTIMP, limit);
    if (base.questions.length !== 1) return this.#encode(base, RCODE.FORMERR, limit);
    const question = base.questions[0];
    const first = resolve(zone, question, this.#options);
    if (!first.ours) {
      if (this.#forward) {
        this.stats.forwarded++;
        return this.#forward(raw);
      }
      this.stats.refused++;
      return this.#encode(base, RCODE.REFUSED, limit);
    }
    if (first.rcode === RCODE.NXDOMAIN) this.stats.nxdomain++;
    const variants = [this.#encode(base, first.rcode, limit, first)];
    // More orders only where order matters: rotations of the shuffled answer, so the variants
    // differ (independent shuffles of a few instances can all come out the same) and each
    // instance leads in turn.
    const n = first.answers.length;
    if (n > 1) for (let i = 1; i < VARIANTS; i++) variants.push(this.#encode(base, first.rcode, limit, { ...first, answers: [...first.answers.slice(i % n), ...first.answers.slice(0, i % n)] }));
    remember(variants);
    return variants[0];
  }

  #encode(
    base: { id?: number; questions: Packet['questions']; rd: boolean; opt: boolean },
    rcode: number,
    limit: number,
    r?: { answers: Answer[]; authorities: Answer[]; additionals: Answer[] },
  ): Buffer {
    const flags = dnsPacket.AUTHORITATIVE_ANSWER | (base.rd ? dnsPacket.RECURSION_DESIRED : 0) | rcode;
    const opt: Answer[] = base.opt ? [{ name: '.', type: 'OPT', udpPayloadSize: MAX_EDNS_UDP, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] } as unknown as Answer] : [];
    const packet: Packet = {
      id: base.id,
      type: 'response',
      flags,
      questions: base.questions,
      answers: r?.answers ?? [],
      authorities: r?.authorities ?? [],
      additionals: [...(r?.additionals ?? []), ...opt],
    };
    const out = dnsPacket.encode(packet);
    if (out.length <= limit) return out;
    // Too big for this UDP client: say so (TC) and let it ask again over TCP.
    this.stats.truncated++;
    return dnsPacket.encode({ ...packet, flags: flags | dnsPacket.TRUNCATED_RESPONSE, answers: [], authorities: [], additionals: opt });
  }
}

/** A cached answer with the query's id. */
function withId(answer: Buffer, query: Buffer): Buffer {
  const out = Buffer.allocUnsafe(answer.length);
  answer.copy(out);
  out[0] = query[0];
  out[1] = query[1];
  return out;
}
