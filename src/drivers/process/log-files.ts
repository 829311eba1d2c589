import { open, readFile, stat } from 'node:fs/promises';
import { lastLines } from '../lines.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LogChunk, LogOptions } from '../driver.ts';

/** The files a process task's output goes to (or, as numbers, offsets in them). */
export interface LogFiles<T = string> {
  stdout: T;
  stderr: T;
}

/** Largest chunk read at once, so a big log is streamed rather than loaded whole. */
const CHUNK = 64 * 1024;

/**
 * A process task's output, read from its log files. `tail` counts lines per stream, since each
 * stream has its own file; with both streams, stdout comes before stderr. A followed read polls
 * the files every `pollMs` and ends, after a last read, once `running()` is false or the signal
 * aborts.
 */
export async function* readLogFiles(
  files: LogFiles,
  options: LogOptions,
  follow: { running: () => boolean; pollMs?: number; from?: LogFiles<number>; until?: () => LogFiles<number> | undefined },
): AsyncGenerator<LogChunk> {
  const { running, pollMs = 250, from, until } = follow;
  // Where a later run of the task began writing to the same files: this run's output ends there.
  const end = async (stream: LogChunk['stream']): Promise<number> => Math.min(await fileSize(files[stream]), until?.()?.[stream] ?? Number.POSITIVE_INFINITY);
  const which = options.stream ?? 'both';
  const streams: LogChunk['stream'][] = which === 'both' ? ['stdout', 'stderr'] : [which];
  const signal = options.signal;
  const offsets = new Map<LogChunk['stream'], number>();
  for (const stream of streams) {
    const size = await fileSize(files[stream]);
    const rotated = await rotatedFiles(files[stream]);
    // One instance's output: from where the files ended when it started (from 0 if rotated since).
    if (from !== undefined) {
      const start = from[stream] <= size ? from[stream] : 0;
      yield* readRange(files[stream], stream, options.tail === undefined ? start : Math.max(start, await tailStart(files[stream], size, options.tail)), size);
    } else if (rotated.length > 0) {
      // Older output, rotated away by size: `.N` (oldest) ... `.1`, then the live file.
      yield* readWithRotated(rotated, files[stream], stream, size, options.tail);
    } else {
      const start = options.tail === undefined ? 0 : await tailStart(files[stream], size, options.tail);
      yield* readRange(files[stream], stream, start, size);
    }
    offsets.set(stream, size);
  }
  if (!options.follow) return;
  for (;;) {
    if (signal?.aborted) return;
    // Checked before reading, so the last read sees everything written before the exit.
    const done = !running();
    for (const stream of streams) {
      let offset = offsets.get(stream) ?? 0;
      const size = await end(stream);
      // A shorter file was truncated or replaced: start over.
      if (size < offset) offset = 0;
      if (size > offset) yield* readRange(files[stream], stream, offset, size);
      offsets.set(stream, size);
    }
    if (done) return;
    try {
      await sleep(pollMs, undefined, { signal });
    } catch {
      return;
    }
  }
}

/** The rotated files of `path` that exist, oldest first. */
async function rotatedFiles(path: string): Promise<string[]> {
  const out: string[] = [];
  for (let i = 1; ; i++) {
    if ((await fileSize(`${path}.${i}`)) === 0 && !(await exists(`${path}.${i}`))) break;
    out.unshift(`${path}.${i}`);
  }
  return out;
}

/** Rotated files are small (a few times the rotation size): read whole, then cut to the tail. */
async function* readWithRotated(rotated: string[], path: string, stream: LogChunk['stream'], size: number, tail: number | undefined): AsyncGenerator<LogChunk> {
  const parts: Buffer[] = [];
  for (const file of rotated) parts.push(await readFile(file).catch(() => Buffer.alloc(0)));
  const live = await open(path, 'r').catch(() => undefined);
  if (live) {
    try {
      const buffer = Buffer.alloc(size);
      const { bytesRead } = await live.read(buffer, 0, size, 0);
      parts.push(buffer.subarray(0, bytesRead));
    } finally {
      await live.close();
    }
  }
  const all = Buffer.concat(parts);
  const data = tail === undefined ? all : lastLines(all, tail);
  if (data.length > 0) yield { stream, data };
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

export async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

async function* readRange(path: string, stream: LogChunk['stream'], start: number, end: number): AsyncGenerator<LogChunk> {
  if (end <= start) return;
  const file = await open(path, 'r');
  try {
    for (let position = start; position < end; ) {
      const buffer = Buffer.alloc(Math.min(CHUNK, end - position));
      const { bytesRead } = await file.read(buffer, 0, buffer.length, position);
      if (bytesRead === 0) return;
      position += bytesRead;
      yield { stream, data: buffer.subarray(0, bytesRead) };
    }
  } finally {
    await file.close();
  }
}

/** The offset where the last `lines` lines of the file begin, found by reading it backwards. */
async function tailStart(path: string, size: number, lines: number): Promise<number> {
  if (lines <= 0 || size === 0) return size;
  const file = await open(path, 'r');
  try {
    let seen = 0;
    for (let position = size; position > 0; ) {
      const length = Math.min(CHUNK, position);
      position -= length;
      const buffer = Buffer.alloc(length);
      await file.read(buffer, 0, length, position);
      for (let i = length - 1; i >= 0; i--) {
        // The newline that ends the last line does not start one.
        if (buffer[i] === 10 && position + i !== size - 1 && ++seen === lines) return position + i + 1;
      }
    }
    return 0;
  } finally {
    await file.close();
  }
}
