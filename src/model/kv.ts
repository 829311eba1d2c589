/** A KV entry as Consul's `/v1/kv` returns it: the kv layer builds it, the CLI reads it. */
export interface KvEntry {
  Key: string;
  /** Base64 of the value; null for an empty value, as Consul. */
  Value: string | null;
  Flags: number;
  CreateIndex: number;
  ModifyIndex: number;
  /** How many times a session acquired the key. */
  LockIndex: number;
  /** The session holding the lock, if any. */
  Session?: string;
}
