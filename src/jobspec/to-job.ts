import type { Job } from '../model/index.ts';

/**
 * A job as the user declared it, with every default applied: a stored `Job` without the fields
 * berth owns (version, stop, submitTime). The server sets those when it stores a version.
 */
export type JobInput = Omit<Job, 'version' | 'stop' | 'submitTime'>;

/** The fields berth owns, set when a job version is stored. */
export interface JobStamp {
  version: number;
  /** State index of the write that stores this version. */
  submitTime: number;
  /** Default false: registering a job (again) runs it. */
  stop?: boolean;
}

/** Turns a validated spec into the job to store. */
export function toJob(input: JobInput, stamp: JobStamp): Job {
  return { ...structuredClone(input), version: stamp.version, submitTime: stamp.submitTime, stop: stamp.stop ?? false };
}
