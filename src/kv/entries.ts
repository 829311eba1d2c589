/**
 * KV entries as the backend stores them and as Consul renders them. Each entry is its own backend
 * key, so Consul's CreateIndex and ModifyIndex are the backend's create and mod revisions.
 */
import { BerthError, type KvEntry } from '../model/index.ts';
import { STATE_PREFIX, type KeyValue } from '../state/index.ts';
import type { SessionRecord } from './session-types.ts';

/** Every KV and session key lives under this prefix, so one watch follows both. */
export const KV_ROOT = `${STATE_PREFIX}kv/`;
/** User keys: `<KV_DATA><key>`. */
export const KV_DATA = `${KV_ROOT}d/`;
/** Sessions: `<KV_SESSIONS><id>`. */
export const KV_SESSIONS = `${KV_ROOT}s/`;
/**
 * How a session ended: `<KV_SESSION_ENDS><id>` holds `{"reason": "destroyed" | "invalidated"}`,
 * put in the txn that deletes the session (so the event stream can tell the two apart) on a short
 * lease that removes it afterwards.
 */
export const KV_SESSION_ENDS = `${KV_ROOT}e/`;

/** Largest value Consul accepts (512 KiB); larger PUTs are refused with 413. */
export const MAX_VALUE_BYTES = 512 * 1024;

export type { KvEntry } from '../model/index.ts';

/** What the backend stores for a key (the indexes come from the backend's revisions). */
interface Stored {
  v: string | null;
  f: number;
  l: number;
  s?: string;
}

/** Encode an entry for the backend. */
export function encodeEntry(e: Pick<KvEntry, 'Value' | 'Flags' | 'LockIndex' | 'Session'>): string {
  const stored: Stored = { v: e.Value, f: e.Flags, l: e.LockIndex };
  if (e.Session) stored.s = e.Session;
  return JSON.stringify(stored);
}

/** Decode a backend key under KV_DATA into an entry. */
export function decodeEntry(kv: KeyValue): KvEntry {
  const stored = JSON.parse(kv.value) as Stored;
  const entry: KvEntry = {
    Key: kv.key.slice(KV_DATA.length),
    Value: stored.v,
    Flags: stored.f,
    CreateIndex: kv.createRevision,
    ModifyIndex: kv.modRevision,
    LockIndex: stored.l,
  };
  if (stored.s) entry.Session = stored.s;
  return entry;
}

/** Decode a backend key under KV_SESSIONS into a session record. */
export function decodeSession(kv: KeyValue): SessionRecord {
  const s = JSON.parse(kv.value) as SessionRecord;
  return { ...s, CreateIndex: kv.createRevision, ModifyIndex: kv.modRevision };
}

/** Base64 of raw bytes, null when empty (Consul renders an empty value as null). */
export function toValue(bytes: Buffer | string | undefined): string | null {
  if (bytes === undefined) return null;
  const buf = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
  if (buf.length > MAX_VALUE_BYTES) {
    throw new ValueTooLargeError(buf.length);
  }
  return buf.length === 0 ? null : buf.toString('base64');
}

/** A value over 512 KiB: the HTTP layer answers 413. */
export class ValueTooLargeError extends BerthError {
  constructor(size: number) {
    super('invalid_input', `Cannot store a value of ${size} bytes: the limit is ${MAX_VALUE_BYTES} bytes (512 KiB); store large data elsewhere and keep a reference in KV`);
  }
}

/** Check a user key: non-empty for writes, no leading slash problems, bounded length. */
export function checkKey(key: string, what: string): void {
  if (key.length === 0) throw new BerthError('invalid_input', `Cannot ${what}: the key is empty (use /v1/kv/<key>)`);
  if (key.length > 2048) throw new BerthError('invalid_input', `Cannot ${what}: the key is ${key.length} characters long, the limit is 2048`);
}
