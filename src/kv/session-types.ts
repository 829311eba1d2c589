/** Consul's session, as `/v1/session/*` renders it and the backend stores it. */
export interface SessionRecord {
  ID: string;
  Name: string;
  Node: string;
  /** Lock-delay in nanoseconds, as Consul renders it. */
  LockDelay: number;
  Behavior: 'release' | 'delete';
  /** TTL as Consul writes it (`"15s"`), or empty for none. */
  TTL: string;
  NodeChecks: string[];
  ServiceChecks: { ID: string; Namespace?: string }[];
  CreateIndex: number;
  ModifyIndex: number;
}
