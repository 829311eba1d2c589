import { copyFile, rename, stat, truncate } from 'node:fs/promises';

/** A log file to keep below a size, with at most `maxFiles` files in all (itself and `.1` ... `.N`). */
export interface RotatedFile {
  path: string;
  maxBytes: number;
  maxFiles: number;
}

/**
 * Rotates a log file that a running process writes through an O_APPEND descriptor it holds:
 * copy to `.1` (older ones shift to `.2` ...), then truncate in place (logrotate's copytruncate).
 * The process keeps its descriptor and writes on at the new end; what it writes between copy and
 * truncate is lost, which is the price of not restarting the task.
 */
export async function rotateIfLarge(file: RotatedFile): Promise<boolean> {
  let size: number;
  try {
    size = (await stat(file.path)).size;
  } catch {
    return false;
  }
  if (size <= file.maxBytes) return false;
  const keep = Math.max(0, file.maxFiles - 1);
  if (keep > 0) {
    for (let i = keep - 1; i >= 1; i--) await rename(`${file.path}.${i}`, `${file.path}.${i + 1}`).catch(() => undefined);
    await copyFile(file.path, `${file.path}.1`);
  }
  await truncate(file.path, 0);
  return true;
}

/** Checks a set of log files every `everyMs` and rotates those past their size. */
export class LogRotator {
  readonly #files = new Map<string, RotatedFile[]>();
  readonly #everyMs: number;
  #timer: NodeJS.Timeout | undefined;
  #busy = false;

  constructor(everyMs = 1000) {
    this.#everyMs = everyMs;
  }

  /** Watch the files of task `key` until `unwatch(key)`. */
  watch(key: string, files: RotatedFile[]): void {
    this.#files.set(key, files);
    if (!this.#timer) {
      this.#timer = setInterval(() => void this.#tick(), this.#everyMs);
      // Rotation alone must not keep the agent's process alive.
      this.#timer.unref();
    }
  }

  unwatch(key: string): void {
    this.#files.delete(key);
    if (this.#files.size === 0 && this.#timer) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  async #tick(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      for (const files of this.#files.values()) for (const f of files) await rotateIfLarge(f).catch(() => false);
    } finally {
      this.#busy = false;
    }
  }
}
