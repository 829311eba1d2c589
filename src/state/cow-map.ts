/**
 * A string-keyed map whose snapshots cost almost nothing: entries live in shards, a fork shares
 * them, and the first write to a shared shard copies only that shard. With 100,000 allocations a
 * write after a snapshot copies ~100 entries, not 100,000.
 */

const SHARD_BITS = 10;
const SHARDS = 1 << SHARD_BITS;

/** FNV-1a; ids are uuids or short names, so a cheap string hash spreads them well enough. */
function shardOf(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return (h >>> 0) & (SHARDS - 1);
}

/** A copy-on-write sharded map. A fork must not be written to by its holder. */
export class CowMap<V> {
  private readonly shards: (Map<string, V> | undefined)[];
  /** True where the shard is also held by a fork, so it must be copied before a write. */
  private readonly shared: boolean[];
  private count: number;
  private sorted: V[] | undefined;

  constructor(shards?: (Map<string, V> | undefined)[], count = 0, sorted?: V[]) {
    this.shards = shards ?? new Array<Map<string, V> | undefined>(SHARDS).fill(undefined);
    this.shared = new Array<boolean>(SHARDS).fill(shards !== undefined);
    this.count = count;
    this.sorted = sorted;
  }

  get size(): number {
    return this.count;
  }

  get(key: string): V | undefined {
    return this.shards[shardOf(key)]?.get(key);
  }

  has(key: string): boolean {
    return this.shards[shardOf(key)]?.has(key) ?? false;
  }

  set(key: string, value: V): void {
    const shard = this.writable(shardOf(key));
    const before = shard.size;
    shard.set(key, value);
    this.count += shard.size - before;
    this.sorted = undefined;
  }

  delete(key: string): boolean {
    const i = shardOf(key);
    if (!this.shards[i]?.has(key)) return false;
    this.writable(i).delete(key);
    this.count--;
    this.sorted = undefined;
    return true;
  }

  /** A frozen copy sharing every shard; this map copies a shard before its next write to it. */
  fork(): CowMap<V> {
    this.shared.fill(true);
    return new CowMap(this.shards.slice(), this.count, this.sorted);
  }

  /** Values ordered by key. Cached until the next write; callers must not modify the array. */
  sortedValues(): readonly V[] {
    if (!this.sorted) {
      const entries: [string, V][] = [];
      for (const shard of this.shards) if (shard) for (const entry of shard) entries.push(entry);
      entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      this.sorted = entries.map((e) => e[1]);
    }
    return this.sorted;
  }

  /** Every key, in no particular order. */
  *keys(): IterableIterator<string> {
    for (const shard of this.shards) if (shard) yield* shard.keys();
  }

  private writable(i: number): Map<string, V> {
    let shard = this.shards[i];
    if (!shard) {
      shard = new Map();
      this.shards[i] = shard;
      this.shared[i] = false;
    } else if (this.shared[i]) {
      shard = new Map(shard);
      this.shards[i] = shard;
      this.shared[i] = false;
    }
    return shard;
  }
}
