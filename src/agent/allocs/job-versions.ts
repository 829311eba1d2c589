import type { BerthClient } from '../../api/index.ts';
import type { Job } from '../../model/index.ts';

/**
 * The job versions this node's allocations run, each fetched once: versions never change, and
 * every allocation of a job version shares one request. A failed fetch is forgotten, so the next
 * caller asks again.
 */
export class JobVersions {
  readonly #client: BerthClient;
  readonly #jobs = new Map<string, Promise<Job>>();

  constructor(client: BerthClient) {
    this.#client = client;
  }

  get(jobId: string, version: number): Promise<Job> {
    const key = `${jobId}@${version}`;
    let p = this.#jobs.get(key);
    if (!p) {
      p = this.#client.getJobVersion(jobId, version);
      this.#jobs.set(key, p);
      p.catch(() => this.#jobs.delete(key));
    }
    return p;
  }
}
