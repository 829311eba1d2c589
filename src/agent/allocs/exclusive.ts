/**
 * One operation per key at a time: a call for a key whose operation still runs does nothing.
 * The agent's answers to the watch come faster than a stop or a fetch ends, and each must act once.
 */
export class Exclusive {
  readonly #running = new Set<string>();

  /** Whether an operation for `key` is running. */
  has(key: string): boolean {
    return this.#running.has(key);
  }

  /** Run `work` for `key` unless one already runs. */
  async run(key: string, work: () => Promise<void>): Promise<void> {
    if (this.#running.has(key)) return;
    this.#running.add(key);
    try {
      await work();
    } finally {
      this.#running.delete(key);
    }
  }
}
