import type { JobType, ReschedulePolicy, Resources, RestartPolicy } from '../model/index.ts';

/** What a spec gets for each field it leaves out, in one place so docs and code agree. */
export const DEFAULTS = {
  type: 'service' as JobType,
  priority: 50,
  datacenters: ['dc1'],
  count: 1,
  resources: { cpu: 0.1, memoryMiB: 64 } satisfies Resources,
  killTimeoutMs: 5_000,
};

/**
 * The restart policy by job type: a service retries briefly and fails so that a broken release
 * shows; a batch job gets more attempts over a day, since its work is worth finishing.
 */
export const RESTART_DEFAULTS: Record<JobType, RestartPolicy> = {
  service: { attempts: 2, intervalMs: 30 * 60_000, delayMs: 15_000, mode: 'fail' },
  batch: { attempts: 3, intervalMs: 24 * 3_600_000, delayMs: 15_000, mode: 'fail' },
  system: { attempts: 2, intervalMs: 30 * 60_000, delayMs: 15_000, mode: 'delay' },
};

/**
 * The reschedule policy by job type (Nomad's): a service keeps trying with a growing delay; a
 * batch job gets one more try a day; a system job is never moved (it belongs to its node).
 */
export const RESCHEDULE_DEFAULTS: Record<JobType, ReschedulePolicy> = {
  service: { attempts: 0, intervalMs: 0, delayMs: 30_000, delayFunction: 'exponential', maxDelayMs: 3_600_000, unlimited: true },
  batch: { attempts: 1, intervalMs: 24 * 3_600_000, delayMs: 5_000, delayFunction: 'constant', maxDelayMs: 0, unlimited: false },
  system: { attempts: 0, intervalMs: 0, delayMs: 0, delayFunction: 'constant', maxDelayMs: 0, unlimited: false },
};

/** Limits that keep a typo (`count: 10000000`) from turning into a scheduler storm. */
export const LIMITS = {
  count: 10_000,
  restartAttempts: 1_000,
  /** Groups in one job. */
  groups: 100,
  /** Tasks in one group: they all run on one node. */
  tasks: 100,
  /** Allocations one job may ask for: the sum of its groups' counts (a system job's are per node). */
  allocations: 10_000,
};

/** Job, group and task names: they end up in allocation names, env vars and DNS labels. */
export const NAME = {
  pattern: /^[a-z0-9][a-z0-9_-]{0,62}$/,
  help: 'lowercase letters, digits, "-" and "_", starting with a letter or digit, at most 63 characters',
};

/** Port labels and env keys: they become parts of environment variable names. */
export const IDENTIFIER = {
  pattern: /^[A-Za-z_][A-Za-z0-9_]*$/,
  help: 'letters, digits and "_", not starting with a digit',
};
