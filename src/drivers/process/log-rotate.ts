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
export async function rotateIfLarge(file: RotatedFile, onSize?: (size: number) => void): Promise<boolean> {
  let size: number;
  try {
    size = (await stat(file.path)).size;
  } catch {
    return false;
  }
  onSize?.(size);
  if (size <= file.maxBytes) return false;
  const keep = Math.max(0, file.maxFiles - 1);
  if (keep > 0) {
    for (let i = keep - 1; i >= 1; i--) await rename(`${file.path}.${i}`, `${file.path}.${i + 1}`).catch(() => undefined);
    await copyFile(file.path, `${file.path}.1`);
  }
  await truncate(file.path, 0);
  return true;
}

/** Size samples kept per file: an hour at the default tick. */
const MAX_SAMPLES = 3600;
/** How long the samples of a file no longer watched are kept (for its task's next run). */
const FORGET_MS = 10 * 60_000;

/**
 * Checks a set of log files every `everyMs` and rotates those past their size. Each check also
 * notes the file's size and the time, so that `offsetAt` can say where the output written since a
 * time begins (the files hold no times of their own), to the tick.
 */
export class LogRotator {
  readonly #files = new Map<string, RotatedFile[]>();
  readonly #samples = new Map<string, { time: number; size: number }[]>();
  /** Files no longer watched, and since when: their samples go after `FORGET_MS`. */
  readonly #unwatchedAt = new Map<string, number>();
  readonly #everyMs: number;
  #timer: NodeJS.Timeout | undefined;
  #busy = false;

  constructor(everyMs = 1000) {
    this.#everyMs = everyMs;
  }

  /** Watch the files of task `key` until `unwatch(key)`. */
  watch(key: string, files: RotatedFile[]): void {
    this.#files.set(key, files);
    for (const f of files) this.#unwatchedAt.delete(f.path);
    if (!this.#timer) {
      this.#timer = setInterval(() => void this.#tick(), this.#everyMs);
      // Rotation alone must not keep the agent's process alive.
      this.#timer.unref();
    }
  }

  unwatch(key: string): void {
    // The samples stay a while: a restarted task's next run is watched again on the same files.
    for (const f of this.#files.get(key) ?? []) this.#unwatchedAt.set(f.path, Date.now());
    this.#files.delete(key);
    if (this.#files.size === 0 && this.#timer) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  /**
   * Where in `path` the output written at or after `time` begins: the size at the last check
   * before it (so up to one tick of earlier output comes too); 0 when `time` is before the first
   * check; undefined when the file is not watched.
   */
  offsetAt(path: string, time: number): number | undefined {
    const samples = this.#samples.get(path);
    if (!samples) return undefined;
    let offset = 0;
    for (const s of samples) {
      if (s.time > time) break;
      offset = s.size;
    }
    return offset;
  }

  #forgetUnwatched(): void {
    const now = Date.now();
    for (const [path, since] of this.#unwatchedAt) {
      if (now - since < FORGET_MS) continue;
      this.#samples.delete(path);
      this.#unwatchedAt.delete(path);
    }
  }

  #sample(path: string, size: number): void {
    const list = this.#samples.get(path) ?? [];
    list.push({ time: Date.now(), size });
    if (list.length > MAX_SAMPLES) list.splice(0, list.length - MAX_SAMPLES);
    this.#samples.set(path, list);
  }

  async #tick(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    this.#forgetUnwatched();
    try {
      for (const files of this.#files.values()) {
        for (const f of files) {
          const rotated = await rotateIfLarge(f, (size) => this.#sample(f.path, size)).catch(() => false);
          // Truncated: offsets noted before no longer point into this file.
          if (rotated) this.#samples.set(f.path, [{ time: Date.now(), size: 0 }]);
        }
      }
    } finally {
      this.#busy = false;
    }
  }
}
