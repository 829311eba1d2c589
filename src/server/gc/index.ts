/** Garbage collection: the leader's collector of terminal and orphaned state (`berth system gc`). */
export { GarbageCollector, GC_DEFAULTS, type GcOptions, type GcResult } from './garbage-collector.ts';
