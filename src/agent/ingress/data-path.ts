import type { IngressPlan } from './ingress-plan.ts';

/** One way of carrying the ingress's traffic: berth's own router, or HAProxy driven by berth. */
export interface IngressDataPath {
  /** `builtin` or `haproxy`, for node meta and logs. */
  readonly name: string;
  /** Bind the HTTP addresses; throws with a clear message when one cannot be bound. */
  start(): Promise<void>;
  /** Route as the plan says, without dropping open connections to instances that stay. */
  apply(plan: IngressPlan): Promise<void>;
  /** Stop listening and close every connection. */
  close(): Promise<void>;
}
